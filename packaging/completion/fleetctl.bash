# bash completion for fleetctl.
# Commands and flags come from fleetctl's own help, so they always match the installed fleetctl;
# unit names and machine IDs come from the cluster (a one-second request: nothing when it does not
# answer, for example because FLEETCTL_ENDPOINT is not set on a workstation).

_fleetctl_flags() {
  # The flags listed under one heading of a help text: $1 the heading, the rest the command.
  local heading=$1
  shift
  "$@" 2>/dev/null | awk -v h="$heading:" '$0 == h {on = 1; next} /^[A-Z]/ {on = 0} on' |
    grep -oE '^[[:space:]]*(-[[:alnum:]], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*'
}

_fleetctl_commands() {
  "$1" --help 2>/dev/null | awk '/^COMMANDS:/ {on = 1; next} /^$/ {on = 0} on {print $1}'
}

_fleetctl_cluster() {
  # $1 fleetctl, $2 list command, $3 field; global flags typed so far (endpoint, TLS) are kept.
  "$1" "${_fleetctl_globals[@]}" --request-timeout=1 "$2" --no-legend --full --fields="$3" \
    2>/dev/null
}

_fleetctl() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local fleetctl=${COMP_WORDS[0]}
  local cmd="" i word
  _fleetctl_globals=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word != -* ]]; then
      cmd=$word
      break
    fi
    case $word in
      --endpoint=* | --ca-file=* | --cert-file=* | --key-file=* | --tunnel=*)
        _fleetctl_globals+=("$word") ;;
      --endpoint | --ca-file | --cert-file | --key-file | --tunnel)
        _fleetctl_globals+=("$word=${COMP_WORDS[i + 1]}")
        ((i++)) ;;
      --*=* | --debug | --version | --strict-host-key-checking | --help | -h) ;;
      --*) ((i++)) ;;  # a global flag followed by its value
    esac
  done

  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$(_fleetctl_flags "GLOBAL OPTIONS" "$fleetctl" --help) --help" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$(_fleetctl_commands "$fleetctl")" -- "$cur")
    fi
    return 0
  fi

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_fleetctl_flags OPTIONS "$fleetctl" help "$cmd")" -- "$cur")
    return 0
  fi

  case $cmd in
    help)
      mapfile -t COMPREPLY < <(compgen -W "$(_fleetctl_commands "$fleetctl")" -- "$cur") ;;
    completion)
      mapfile -t COMPREPLY < <(compgen -W "bash zsh" -- "$cur") ;;
    submit | load | start)
      # Unit files in the current directory, and units already in the cluster.
      mapfile -t COMPREPLY < <(
        compgen -f -- "$cur"
        compgen -W "$(_fleetctl_cluster "$fleetctl" list-unit-files unit)" -- "$cur"
      ) ;;
    stop | unload | destroy | restart | status | cat | journal)
      mapfile -t COMPREPLY < <(
        compgen -W "$(_fleetctl_cluster "$fleetctl" list-unit-files unit)" -- "$cur") ;;
    ssh)
      mapfile -t COMPREPLY < <(compgen -W "$(_fleetctl_cluster "$fleetctl" list-machines machine)
        $(_fleetctl_cluster "$fleetctl" list-units unit)" -- "$cur") ;;
    cordon | uncordon | drain | reboot)
      mapfile -t COMPREPLY < <(
        compgen -W "$(_fleetctl_cluster "$fleetctl" list-machines machine)" -- "$cur") ;;
  esac
  return 0
}

complete -o default -o bashdefault -F _fleetctl fleetctl
