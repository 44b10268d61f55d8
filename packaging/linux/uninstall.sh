#!/bin/sh
# Remove what install.sh put in place. Your settings, autosaves and the models you trained
# (~/.local/share/PhotoRetouch, ~/.config/PhotoRetouch) stay unless you pass --purge.
set -eu
PREFIX=${PREFIX:-"$HOME/.local"}
DEST="$PREFIX/lib/photoretouch"
rm -f "$PREFIX/share/applications/photoretouch.desktop"
find "$PREFIX/share/icons/hicolor" -name 'photoretouch.png' -path '*/apps/*' -delete 2>/dev/null || true
rm -f "$PREFIX/share/icons/hicolor/scalable/apps/photoretouch.svg"
if [ -L "$PREFIX/bin/photoretouch" ]; then rm -f "$PREFIX/bin/photoretouch"; fi
rm -rf "$DEST"
if [ "${1:-}" = "--purge" ]; then
    rm -rf "${XDG_DATA_HOME:-$HOME/.local/share}/PhotoRetouch" "${XDG_CONFIG_HOME:-$HOME/.config}/PhotoRetouch" \
           "${XDG_CACHE_HOME:-$HOME/.cache}/desktop_app"
    echo "PhotoRetouch removed, with its settings, autosaves and trained models"
else
    echo "PhotoRetouch removed (settings and your trained models kept in ${XDG_DATA_HOME:-$HOME/.local/share}/PhotoRetouch)"
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$PREFIX/share/applications" || true
