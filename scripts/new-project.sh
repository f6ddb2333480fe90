#!/usr/bin/env bash
# Makes a new SIP server crate on Parrot from template/, as
# `cargo generate --path template` would, without cargo-generate.
#
# Usage: scripts/new-project.sh NAME DIR [--parrot-path PATH]
#
#   NAME   the crate's name (letters, digits, `-`, `_`; cargo-generate's
#          `project-name`, kebab-cased; `crate_name` is its snake_case form)
#   DIR    where to put it (must not exist, or be empty)
#   --parrot-path PATH
#          Parrot's runtime crate (the `parrot` directory of a checkout),
#          relative to the current directory or absolute; default: the
#          `parrot` directory of the checkout this script is in. It goes
#          into the new Cargo.toml as an absolute path.
set -euo pipefail

usage() {
    sed -n '5,15s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

repo=$(cd "$(dirname "$0")/.." && pwd)
template="$repo/template"

positional=()
parrot_path="$repo/parrot"
while [ $# -gt 0 ]; do
    case "$1" in
    --parrot-path)
        [ $# -ge 2 ] || usage
        parrot_path=$2
        shift 2
        ;;
    --parrot-path=*)
        parrot_path=${1#--parrot-path=}
        shift
        ;;
    -h | --help) usage ;;
    -*)
        echo "error: unknown option $1" >&2
        usage
        ;;
    *)
        positional+=("$1")
        shift
        ;;
    esac
done
[ ${#positional[@]} -eq 2 ] || usage
name=${positional[0]}
dir=${positional[1]}

if ! [[ $name =~ ^[A-Za-z][A-Za-z0-9_-]*$ ]]; then
    echo "error: \`$name\` is not a crate name (a letter, then letters, digits, - or _)" >&2
    exit 2
fi
# cargo-generate's placeholders: project-name in kebab-case, crate_name in
# snake_case.
project_name=$(printf '%s' "$name" | tr 'A-Z_' 'a-z-')
crate_name=$(printf '%s' "$project_name" | tr '-' '_')

if [ ! -f "$parrot_path/Cargo.toml" ]; then
    echo "error: no Parrot crate at $parrot_path (no Cargo.toml)" >&2
    exit 2
fi
parrot_path=$(cd "$parrot_path" && pwd)

if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "error: $dir exists and is not empty" >&2
    exit 2
fi
mkdir -p "$dir"

# A sed replacement with `\`, `&` and the delimiter `|` escaped.
escape() {
    printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'
}

(cd "$template" && find . -type f ! -name cargo-generate.toml ! -path './target/*') |
    while IFS= read -r file; do
        mkdir -p "$dir/$(dirname "$file")"
        sed -e "s|{{project-name}}|$(escape "$project_name")|g" \
            -e "s|{{crate_name}}|$(escape "$crate_name")|g" \
            -e "s|{{parrot_path}}|$(escape "$parrot_path")|g" \
            "$template/$file" >"$dir/$file"
    done

if grep -rn '{{\|{%' "$dir" >/dev/null; then
    echo "error: placeholders left in $dir:" >&2
    grep -rn '{{\|{%' "$dir" >&2
    exit 1
fi
echo "Created $project_name in $dir (Parrot from $parrot_path)."
echo "Next: cd $dir && cargo test"
