#!/usr/bin/env bash
# Builds the deployable Azure Functions zip: a self-contained linux-x64 publish of functions/Kestrel.Cloud.Functions
# (the csproj adds host.json and the function folders from functions/host/), zipped with the executable bit kept.
#
#   scripts/publish-functionapp.sh [output-folder] [zip-file]
#
# Defaults: artifacts/functionapp and artifacts/kestrel-cloud-functionapp.zip. docs/deploy.md explains the layout.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/artifacts/functionapp}"
zipfile="${2:-$repo/artifacts/kestrel-cloud-functionapp.zip}"
mkdir -p "$(dirname "$zipfile")"
out="$(mkdir -p "$out" && cd "$out" && pwd)"
zipfile="$(cd "$(dirname "$zipfile")" && pwd)/$(basename "$zipfile")"

rm -rf "${out:?}"/* "$zipfile"
dotnet publish "$repo/functions/Kestrel.Cloud.Functions/Kestrel.Cloud.Functions.csproj" \
  --configuration Release --runtime linux-x64 --self-contained true --output "$out" -nologo -v quiet

# 'zip' stores Unix permissions, so the Functions host can start the executable after deployment.
chmod +x "$out/Kestrel.Cloud.Functions"
(cd "$out" && zip -q -r -X "$zipfile" .)
echo "$zipfile"
