#!/usr/bin/env bash
# Fails when a banned C function (STYLE.md section 13) appears in our code.
set -euo pipefail
cd "${MS_SOURCE_DIR:?}"
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|strncpy|alloca)[[:space:]]*\('
hits=$(grep -rnE "$pattern" --include='*.c' --include='*.h' proto daemon client tests || true)
if [[ -n "$hits" ]]; then
	echo "banned functions used (see STYLE.md section 13):"
	echo "$hits"
	exit 1
fi
echo "no banned functions"
