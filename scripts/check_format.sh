#!/usr/bin/env bash
# check_format.sh - list the C files that differ from the repository's .clang-format and exit 1
# if any do. Run by .ci/run and by ctest (check_format). Fix with:
#   clang-format -i $(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/unit/*.[ch]' ...)
# Uses clang-format-14 (Debian's clang-format, installed by scripts/setup.sh) when present.
set -u
cd "$(dirname "$0")/.." || exit 1
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
    echo "check_format: clang-format not found (scripts/setup.sh installs it)" >&2
    exit 1
fi
files=$(ls src/*/*.[ch] include/*.h tests/unit/*.[ch] tests/fuzz/*.c tests/exhaustive/*.c \
    tests/layers/*.c bench/*.c 2>/dev/null)
bad=0
for f in $files; do
    if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
        echo "$f"
        bad=1
    fi
done
if [ $bad = 1 ]; then
    echo "check_format: the files above differ from .clang-format ($("$cf" --version))" >&2
    exit 1
fi
echo "check_format: ok"
