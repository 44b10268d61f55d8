#!/bin/sh
# Install PhotoRetouch for the current user (no root needed):
#   the app       ~/.local/lib/photoretouch/
#   a command     ~/.local/bin/photoretouch
#   the launcher  ~/.local/share/applications/photoretouch.desktop
#   its icon      ~/.local/share/icons/hicolor/<size>/apps/photoretouch.png
# Run it from the unpacked download: ./install.sh   (PREFIX=/some/where ./install.sh to change ~/.local)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-"$HOME/.local"}
DEST="$PREFIX/lib/photoretouch"
APPS="$PREFIX/share/applications"
ICONS="$PREFIX/share/icons/hicolor"

if [ ! -x "$HERE/PhotoRetouch" ]; then
    echo "install.sh: run me from the unpacked PhotoRetouch folder (PhotoRetouch not found in $HERE)" >&2
    exit 1
fi

mkdir -p "$PREFIX/lib" "$PREFIX/bin" "$APPS"
if [ "$HERE" != "$DEST" ]; then
    # copy next to the old version, then swap, so an interrupted install leaves a working one
    rm -rf "$DEST.new" "$DEST.old"
    cp -a "$HERE" "$DEST.new"
    if [ -d "$DEST" ]; then mv "$DEST" "$DEST.old"; fi
    mv "$DEST.new" "$DEST"
    rm -rf "$DEST.old"
fi

ln -sf "$DEST/PhotoRetouch" "$PREFIX/bin/photoretouch"
for png in "$DEST"/_internal/resources/icons/photoretouch-*.png; do
    size=$(basename "$png" .png | sed 's/photoretouch-//')
    mkdir -p "$ICONS/${size}x${size}/apps"
    cp "$png" "$ICONS/${size}x${size}/apps/photoretouch.png"
done
mkdir -p "$ICONS/scalable/apps"
cp "$DEST/_internal/resources/icons/photoretouch.svg" "$ICONS/scalable/apps/photoretouch.svg"
sed "s|@EXEC@|$DEST/PhotoRetouch|" "$DEST/photoretouch.desktop" > "$APPS/photoretouch.desktop.tmp"
chmod 644 "$APPS/photoretouch.desktop.tmp"
mv "$APPS/photoretouch.desktop.tmp" "$APPS/photoretouch.desktop"

# let menus and docks notice (optional tools; missing ones are fine)
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" || true

echo "PhotoRetouch installed in $DEST"
echo "  start it from the applications menu, or run: $PREFIX/bin/photoretouch"
echo "  remove it with: $DEST/uninstall.sh"
