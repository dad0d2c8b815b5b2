# Shared setup for the scripts in bin/: the project's virtual environment and the Debian
# packages a script needs. Sourced, not run; every function is silent unless it installs
# (one line before, one after) or fails (one line that says what failed and where the
# details are).

BASTION_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BASTION_VENV="$BASTION_ROOT/.venv"
BASTION_SCRIPT="bin/$(basename "$0")"

bastion_die() {
    echo "$BASTION_SCRIPT: $*" >&2
    exit 1
}

# The installed state depends on these files and on the interpreter; a change to any of
# them means the next run installs again.
_bastion_fingerprint() {
    {
        "$BASTION_VENV/bin/python" -c 'import sys; print(sys.version)'
        cat "$BASTION_ROOT/pyproject.toml" "$BASTION_ROOT"/requirements*.txt
    } | sha256sum | cut -d' ' -f1
}

# ensure_venv REQUIREMENTS_FILE
# Creates .venv on first use, then installs REQUIREMENTS_FILE (pinned) and the project in
# editable mode without dependencies. The stamp file records the fingerprint and the
# requirement files installed under it, so a rerun with nothing changed costs no pip call.
ensure_venv() {
    local requirements="$1"
    local stamp="$BASTION_VENV/.bastion-installed"
    local log="$BASTION_VENV/install.log"
    local python="${PYTHON:-python3}"

    command -v "$python" >/dev/null \
        || bastion_die "$python not found; install Python 3.11 or newer, or set PYTHON"
    mkdir -p "$BASTION_VENV"
    # One installer at a time: bin/test and bin/bastion may start together.
    exec 9>"$BASTION_VENV/.lock"
    flock 9

    if ! "$BASTION_VENV/bin/python" -c '' 2>/dev/null; then
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || bastion_die "$python is $("$python" -V 2>&1); Bastion needs Python 3.11 or newer"
        # --clear: a .venv whose interpreter no longer runs is rebuilt from nothing.
        "$python" -m venv --clear "$BASTION_VENV" >"$BASTION_VENV/create.log" 2>&1 \
            || bastion_die "could not create .venv with $python; see .venv/create.log"
        rm -f "$stamp"
    fi

    local fingerprint
    fingerprint="$(_bastion_fingerprint)"
    if [[ -f "$stamp" ]] && [[ "$(head -n1 "$stamp")" == "$fingerprint" ]] \
        && grep -qxF "$requirements" "$stamp"; then
        exec 9>&-
        return 0
    fi

    # The only step that takes long (about half a minute on a first run): say so, on
    # stderr, so that the wait is not silence and stdout stays the command's own.
    echo "$BASTION_SCRIPT: installing $requirements into .venv (details in .venv/install.log)..." >&2
    local pip=("$BASTION_VENV/bin/python" -m pip --disable-pip-version-check --quiet)
    if ! { "${pip[@]}" install -r "$BASTION_ROOT/$requirements" \
            && "${pip[@]}" install --no-deps -e "$BASTION_ROOT"; } >"$log" 2>&1; then
        local reason
        reason="$(grep -m1 -iE '^ *error' "$log" || tail -n1 "$log")"
        bastion_die "installing $requirements into .venv failed (${reason:-no output}); see .venv/install.log"
    fi

    echo "$BASTION_SCRIPT: installed $requirements" >&2
    if [[ -f "$stamp" ]] && [[ "$(head -n1 "$stamp")" == "$fingerprint" ]]; then
        echo "$requirements" >>"$stamp"
    else
        printf '%s\n%s\n' "$fingerprint" "$requirements" >"$stamp"
    fi
    exec 9>&-
}

# ensure_apt_packages PACKAGE...
# Installs whichever of the Debian packages are missing; does nothing (no apt at all) when
# every one is installed already.
ensure_apt_packages() {
    local missing=() package
    for package in "$@"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" == installed ]] \
            || missing+=("$package")
    done
    ((${#missing[@]})) || return 0

    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null \
            || bastion_die "missing Debian packages ${missing[*]}; install them as root"
        sudo=(sudo)
    fi
    local log
    log="$(mktemp -t bastion-apt.XXXXXX.log)"
    if ! { "${sudo[@]}" apt-get update -qq \
            && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
            </dev/null >"$log" 2>&1; then
        bastion_die "apt-get could not install ${missing[*]}; see $log"
    fi
    rm -f "$log"
}
