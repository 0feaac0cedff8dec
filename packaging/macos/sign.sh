#!/usr/bin/env bash
# Sign dist/fim-tray.app so desktop-notifier can use UNUserNotificationCenter (clickable
# notifications need a signed app bundle; an ad-hoc signature is enough on your own Mac).
#
#   packaging/macos/sign.sh [APP]                       ad-hoc (default APP: dist/fim-tray.app)
#   IDENTITY="Developer ID Application: NAME (TEAMID)" NOTARY_PROFILE=PROFILE \
#     packaging/macos/sign.sh [APP]                     Developer ID, hardened runtime, notarized
#
# NOTARY_PROFILE is a keychain profile made once with
#   xcrun notarytool store-credentials PROFILE --apple-id ID --team-id TEAMID
# Runs on macOS only (codesign, notarytool and stapler come with the Xcode command line tools).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
APP=${1:-$ROOT/dist/fim-tray.app}
HERE=$ROOT/packaging/macos
[[ -d "$APP" ]] || { echo "sign.sh: no app bundle at $APP: build packaging/fim-tray.spec first" >&2; exit 1; }

if [[ -z "${IDENTITY:-}" ]]; then
  # Ad-hoc: no certificate; runs on this Mac, and notifications become clickable.
  codesign --force --deep -s - "$APP"
else
  # Developer ID with the hardened runtime, which notarization requires.
  codesign --force --deep --timestamp --options runtime \
    --entitlements "$HERE/entitlements.plist" -s "$IDENTITY" "$APP"
fi
codesign --verify --deep --strict --verbose=2 "$APP"

if [[ -n "${IDENTITY:-}" && -n "${NOTARY_PROFILE:-}" ]]; then
  ZIP=$(dirname "$APP")/fim-tray-notarize.zip
  ditto -c -k --keepParent "$APP" "$ZIP"
  xcrun notarytool submit "$ZIP" --keychain-profile "$NOTARY_PROFILE" --wait
  xcrun stapler staple "$APP"
  spctl --assess --type execute --verbose "$APP"
  rm -f "$ZIP"
fi
