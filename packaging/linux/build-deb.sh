#!/usr/bin/env bash
# Build fim-tray_<version>_<arch>.deb from the PyInstaller one-folder build.
#
#   packaging/linux/build-deb.sh [DIST [OUT]]
#     DIST  the one-folder build (default: dist/fim-tray, from packaging/fim-tray.spec)
#     OUT   where the .deb goes (default: dist); its path is printed on stdout
#   DEB_COMPRESSION=xz|gzip|none (default xz) and DEB_LEVEL=0-9 choose dpkg-deb's compression.
#
# The package installs the build to /opt/fim-tray, links /usr/bin/fim-tray to it, and adds the
# menu entry, the AppStream metadata and the hicolor icons. Debian's triggers refresh the icon
# cache and the menu, so there are no maintainer scripts.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIST=$(realpath "${1:-$ROOT/dist/fim-tray}")
OUT=${2:-$ROOT/dist}
APP_ID=io.github.fim-tray

say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ -x "$DIST/fim-tray" ]] || die "no build in $DIST: run pyinstaller packaging/fim-tray.spec first"
command -v dpkg-deb >/dev/null || die "dpkg-deb is needed (package dpkg)"
ICONS="$DIST/_internal/icons/hicolor"
[[ -d "$ICONS" ]] || die "the build has no icons in $ICONS"

# The version is the built program's own: the package can never disagree with it.
VERSION=$("$DIST/fim-tray" --version | awk '{print $2}')
[[ -n "$VERSION" ]] || die "$DIST/fim-tray --version printed no version"
ARCH=$(dpkg --print-architecture)

# What the bundle does not carry: PyInstaller leaves glibc and a few display libraries to the
# system (tests/test_packaging.py checks this list against ldd). GTK, AppIndicator, PyGObject
# and their typelibs are inside the bundle. glibc must be at least the build machine's.
GLIBC=$(ldd --version | awk 'NR == 1 {print $NF}')
DEPENDS="libc6 (>= $GLIBC), libxcb1, libwayland-client0, libwayland-cursor0, libwayland-egl1"
RECOMMENDS="zenity | kdialog, xdg-utils"
SUGGESTS="gnome-shell-extension-appindicator"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/fim-tray"
install -d "$PKG/DEBIAN" "$PKG/opt" "$PKG/usr/bin" "$PKG/usr/share/applications" \
  "$PKG/usr/share/metainfo" "$PKG/usr/share/icons" "$PKG/usr/share/doc/fim-tray"

cp -a "$DIST" "$PKG/opt/fim-tray"
rm -rf "$PKG/opt/fim-tray/_internal/icons"  # installed below, where desktops look for them
ln -s /opt/fim-tray/fim-tray "$PKG/usr/bin/fim-tray"
install -m 0644 "$HERE/$APP_ID.desktop" "$PKG/usr/share/applications/$APP_ID.desktop"
install -m 0644 "$HERE/$APP_ID.metainfo.xml" "$PKG/usr/share/metainfo/$APP_ID.metainfo.xml"
for png in "$ICONS"/*/apps/fim-tray.png; do
  size=$(basename "$(dirname "$(dirname "$png")")")
  install -D -m 0644 "$png" "$PKG/usr/share/icons/hicolor/$size/apps/fim-tray.png"
done
cat > "$PKG/usr/share/doc/fim-tray/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fim-tray

Files: *
Copyright: fim-tray developers
License: MIT

Files: opt/fim-tray/_internal/*
Comment: Python, PyGObject, GTK, AppIndicator, Pillow, pystray and the other libraries
 bundled by PyInstaller, each under its own license (PSF, LGPL-2.1+, LGPL-3.0, MIT-CMU, ...).
License: various
EOF
find "$PKG" -type d -exec chmod 0755 {} +

SIZE=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat > "$PKG/DEBIAN/control" <<EOF
Package: fim-tray
Version: $VERSION
Architecture: $ARCH
Maintainer: fim-tray developers <fim-tray@users.noreply.invalid>
Installed-Size: $SIZE
Depends: $DEPENDS
Recommends: $RECOMMENDS
Suggests: $SUGGESTS
Section: admin
Priority: optional
Description: File Integrity Monitor in the system tray
 fim-tray keeps a trusted baseline of the folders you choose (a SHA-256 hash
 plus permissions, owner and times of every file) and tells you when a file is
 added, removed, altered, or has its permissions or owner changed.
 .
 The same engine runs from the command line (fim-tray check, monitor, ...),
 with exit codes and JSON output, for servers and scripts.
EOF

mkdir -p "$OUT"
DEB="$(realpath "$OUT")/fim-tray_${VERSION}_${ARCH}.deb"
level=()
[[ -n "${DEB_LEVEL:-}" ]] && level=(-z "$DEB_LEVEL")
dpkg-deb --root-owner-group -Z "${DEB_COMPRESSION:-xz}" "${level[@]}" --build "$PKG" "$DEB" >&2
echo "$DEB"
