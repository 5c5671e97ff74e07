#!/usr/bin/env bash
# Packs DebertaSharp and the deberta tool, then follows README's "Use it in your app" in a new console app with an
# empty NuGet cache (packages from the local pack folder and the normal NuGet source): the app must build with
# warning DEBERTASHARP001 and no backend, then build and classify with libtorch-cpu-linux-x64; the tool must install,
# exit 2 on an unknown option and classify. Slow (downloads ~1 GB into the fresh cache); not part of the test suite.
# Usage: build/check-package.sh [WORK_DIR]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
feed="$work/feed"
export NUGET_PACKAGES="$work/nuget-cache"      # fresh cache
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props")"
model="$repo/samples/models/tiny-sentiment"

echo "== pack $version into $feed"
dotnet pack "$repo/src/DebertaSharp" -c Release -o "$feed" -v q
dotnet pack "$repo/src/DebertaSharp.Cli" -c Release -o "$feed" -v q
ls -l "$feed"

echo "== new console app, README commands"
rm -rf "$work/MyApp"
cd "$work"
dotnet new console -o MyApp >/dev/null
cd MyApp
cat > NuGet.config <<CONFIG
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
CONFIG
dotnet add package DebertaSharp --version "$version" >/dev/null
# Program.cs: the C# block of the README section.
awk '/^## Use it in your app/{s=1} s&&/^```csharp/{c=1;next} c&&/^```/{exit} c{print}' "$repo/README.md" > Program.cs
cat Program.cs

echo "== build without a backend: expect DEBERTASHARP001"
dotnet build -v q -nologo 2>&1 | tee "$work/build-no-backend.log" | grep DEBERTASHARP001 | head -1
grep -q "warning DEBERTASHARP001" "$work/build-no-backend.log"

echo "== with the backend: builds without the warning and runs"
sed -n 's/^dotnet add package libtorch\(.*\)/dotnet add package libtorch\1/p' "$repo/README.md" | head -1 | sh >/dev/null
dotnet build -v q -nologo 2>&1 | tee "$work/build-backend.log" | tail -3
! grep -q DEBERTASHARP001 "$work/build-backend.log"
dotnet run --no-build -- "$model"

echo "== the tool"
dotnet tool install --tool-path "$work/tools" --add-source "$feed" DebertaSharp.Cli --version "$version"
set +e
"$work/tools/deberta" classify --model "$model" --bogus "x"; code=$?
set -e
test "$code" = 2
"$work/tools/deberta" classify --model "$model" "A wonderful little library."
echo "== all checks passed ($work)"
