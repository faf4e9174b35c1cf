#!/usr/bin/env bash
# Installs Edge as systemd services: the kiosk service (edge.service) and, with --audit, the audit store
# (edge-audit.service). Copies the Release build, the models and libonnxruntime under PREFIX, creates the
# service users, installs the units and an example configuration, reloads systemd and enables the units.
# It never starts a service: start them yourself (systemctl start edge).
#
# usage: deploy/install.sh [--prefix /opt/edge] [--root DIR] [--audit] [--no-user] [--no-systemctl]
#   --root DIR      install into DIR as a staging root (packaging, tests); implies --no-user --no-systemctl
#   --no-user       do not create the edge / edge-audit system users
#   --no-systemctl  do not run systemctl daemon-reload / enable
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../scripts/common.sh"

prefix=/opt/edge root="" audit=0 make_user=1 use_systemctl=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --root) root="$2"; make_user=0; use_systemctl=0; shift 2 ;;
    --audit) audit=1; shift ;;
    --no-user) make_user=0; shift ;;
    --no-systemctl) use_systemctl=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "install: unknown option '$1' (see --help)" ;;
  esac
done
case "$prefix" in /*) ;; *) die "install: --prefix must be absolute (was '$prefix')" ;; esac

edge_out="$(dirname "$EDGE_BIN")"
audit_out="$(dirname "$EDGE_AUDIT_BIN")"
[ -x "$EDGE_BIN" ] || die "install: $EDGE_BIN is not built; run ./edge setup first"
if [ "$audit" = 1 ]; then [ -x "$EDGE_AUDIT_BIN" ] || die "install: $EDGE_AUDIT_BIN is not built"; fi
models="${EDGE_MODELS:-$EDGE_CACHE/models}"
[ -d "$models" ] || die "install: no models in $models; run ./edge setup first"
[ -f "$EDGE_ORT_LIBRARY" ] || die "install: $EDGE_ORT_LIBRARY missing; run ./edge setup first"

dest="$root$prefix"
log "installing into $dest"
install -d -m 0755 "$dest/bin" "$dest/models" "$dest/lib"
cp -a "$edge_out/." "$dest/bin/"
cp -a "$models/." "$dest/models/"
install -m 0644 "$EDGE_ORT_LIBRARY" "$dest/lib/libonnxruntime.so.1"
install -m 0644 "$EDGE_ROOT/README.md" "$dest/README.md"
if [ "$audit" = 1 ]; then install -d -m 0755 "$dest/audit"; cp -a "$audit_out/." "$dest/audit/"; fi

units="$root/etc/systemd/system"
install -d -m 0755 "$units" "$root/etc/edge"
install_unit() { sed "s#/opt/edge#$prefix#g" "$here/systemd/$1" > "$units/$1"; chmod 0644 "$units/$1"; }
install_unit edge.service
[ "$audit" = 1 ] && install_unit edge-audit.service
if [ ! -f "$root/etc/edge/edge.json" ]; then
  install -m 0640 "$here/edge.example.json" "$root/etc/edge/edge.json"
  log "wrote $root/etc/edge/edge.json: set Kiosk ids, Camera:Source and Sync:Broker before starting"
fi

# the apphost needs to find the .NET runtime: tell the unit where this machine's dotnet lives
if dotnet_path="$(command -v dotnet 2>/dev/null)"; then
  dotnet_root="$(dirname "$(readlink -f "$dotnet_path")")"
  for unit in edge.service $([ "$audit" = 1 ] && echo edge-audit.service); do
    install -d -m 0755 "$units/$unit.d"
    printf '[Service]\nEnvironment=DOTNET_ROOT=%s\n' "$dotnet_root" > "$units/$unit.d/dotnet.conf"
  done
fi

if [ "$make_user" = 1 ]; then
  for user in edge $([ "$audit" = 1 ] && echo edge-audit); do
    if ! id "$user" >/dev/null 2>&1; then
      log "creating system user $user"
      useradd --system --user-group --home-dir "/var/lib/$user" --no-create-home --shell /usr/sbin/nologin "$user"
    fi
  done
  getent group video >/dev/null && usermod -a -G video edge
  getent group gpio >/dev/null && usermod -a -G gpio edge
  chgrp edge "$root/etc/edge/edge.json"
fi

if [ "$use_systemctl" = 1 ]; then
  systemctl daemon-reload
  systemctl enable edge.service
  [ "$audit" = 1 ] && systemctl enable edge-audit.service
  log "installed and enabled; start with: systemctl start edge$([ "$audit" = 1 ] && echo ' edge-audit')"
else
  log "installed (systemctl not run); units in $units"
fi
