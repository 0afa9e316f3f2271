#!/usr/bin/env bash
# Vendors the GOV.UK Frontend build (its CSS and JavaScript) into the console's static
# files, so that `pip install` works with no npm. Run it to move to another version, then commit
# pipeline/web/static/govuk/. govuk-frontend is MIT-licensed (the licence is copied alongside).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${GOVUK_FRONTEND_VERSION:-5.14.0}"
TARGET=pipeline/web/static/govuk
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

npm install --prefix "$work" --no-save --no-audit --no-fund --ignore-scripts \
  "govuk-frontend@${VERSION}" >/dev/null
dist="$work/node_modules/govuk-frontend/dist/govuk"

rm -rf "$TARGET"
mkdir -p "$TARGET"
cp "$dist/govuk-frontend.min.js" "$TARGET/"
# Neither the GDS Transport font nor the crown may be used off GOV.UK (the Design System's own
# rule; a council's console is not on GOV.UK): no font files or crown images are copied, and the
# stylesheet's @font-face rules are removed so pages fall back to Arial without failed requests.
sed -E 's/@font-face\{[^}]*\}//g' "$dist/govuk-frontend.min.css" > "$TARGET/govuk-frontend.min.css"
if grep -q '@font-face' "$TARGET/govuk-frontend.min.css"; then
  echo "the stylesheet still loads fonts: check the @font-face rules" >&2
  exit 1
fi
# The npm package carries no licence file, only `"license": "MIT"` in package.json: say so, and
# write out the MIT licence as GOV.UK Frontend's repository states it.
grep -q '"license": "MIT"' "$work/node_modules/govuk-frontend/package.json"
cat > "$TARGET/LICENSE.txt" <<'LICENCE'
The MIT License (MIT)

Copyright (C) 2018 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
LICENCE
cat > "$TARGET/README.md" <<README
# GOV.UK Frontend ${VERSION} (vendored)

Copied from the npm package \`govuk-frontend@${VERSION}\` (\`dist/govuk/\`) by
\`scripts/vendor_govuk.sh\`, so the console's look ships inside the wheel and needs no npm at
install time. Its fonts and crown images are left out: GOV.UK's rules keep them for
services on GOV.UK. GOV.UK Frontend is © Crown copyright, released under the MIT licence (LICENSE.txt).
Do not edit these files: run the script again with GOVUK_FRONTEND_VERSION set to change version.
README
echo "govuk-frontend ${VERSION} vendored into ${TARGET}"
