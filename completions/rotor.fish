# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rotor_global_optspecs
    string join \n state-dir= output= v/verbose context= h/help V/version
end

function __fish_rotor_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rotor_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rotor_using_subcommand
    set -l cmd (__fish_rotor_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rotor -n "__fish_rotor_needs_command" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_needs_command" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_needs_command" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_needs_command" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_needs_command" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_needs_command" -s V -l version -d 'Print version'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "rotate" -d 'Rotate: stage the new key, signal, monitor, promote, signal, monitor'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "retire-previous" -d 'Drop the previous key once the grace period is over'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "status" -d 'Show fingerprints, ages, grace, due state, interrupted runs and the lock holder'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "plan" -d 'Print every step a rotation would take, touching nothing'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "check" -d 'Preflight, writing nothing: runbooks parse, stores are reachable and allow what rotor will do, signal units exist, monitor endpoints answer'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "rollback" -d 'Make the previous key current again (or drop a staged pending key)'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "resume" -d 'Finish interrupted runs from their journal'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "audit" -d 'Show, export or verify the hash-chained audit log'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "schema" -d 'Print the JSON Schema (rotor/v1) every `--output json` document follows'
complete -c rotor -n "__fish_rotor_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l runbook -d 'A runbook file (repeatable)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l runbooks -d 'A directory of *.yaml runbooks, used when no --runbook is given' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l secret -d 'Only this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l provider -d 'Only targets of this kind (file, ...)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l target -d 'Only the target of this name (repeatable; a target\'s name, or its kind)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l shard -d 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l key-file -d 'Use this key instead of generating one ("-" reads stdin)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -s j -l jobs -d 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l reason -d 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l pushgateway -d 'Push metrics to this Prometheus Pushgateway (status: the secrets\' metrics; a run: its outcome)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l force -d 'Emergency: bypass min_interval and a foreign pending key, write the new key alone (every old token dies at once)'
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -s y -l yes -d 'Do not ask for confirmation (needed for --force without a terminal)'
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l if-due -d 'Only rotate secrets older than their max_age; exit 0 otherwise'
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -l dry-run -d 'Print the steps, touch nothing'
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand rotate" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l runbook -d 'A runbook file (repeatable)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l runbooks -d 'A directory of *.yaml runbooks, used when no --runbook is given' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l secret -d 'Only this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l provider -d 'Only targets of this kind (file, ...)' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l target -d 'Only the target of this name (repeatable; a target\'s name, or its kind)' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l shard -d 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -s j -l jobs -d 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l reason -d 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l pushgateway -d 'Push metrics to this Prometheus Pushgateway (status: the secrets\' metrics; a run: its outcome)' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l force -d 'Retire before the grace period is over (asks for confirmation)'
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -s y -l yes -d 'Do not ask for confirmation'
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -l dry-run -d 'Print the steps, touch nothing'
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand retire-previous" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand status" -l runbook -d 'A runbook file (repeatable)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand status" -l runbooks -d 'A directory of *.yaml runbooks, used when no --runbook is given' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand status" -l secret -d 'Only this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand status" -l provider -d 'Only targets of this kind (file, ...)' -r
complete -c rotor -n "__fish_rotor_using_subcommand status" -l target -d 'Only the target of this name (repeatable; a target\'s name, or its kind)' -r
complete -c rotor -n "__fish_rotor_using_subcommand status" -l shard -d 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N' -r
complete -c rotor -n "__fish_rotor_using_subcommand status" -l textfile -d 'Also write the metrics to DIR/rotor.prom, atomically (node_exporter\'s textfile collector)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand status" -l pushgateway -d 'Push metrics to this Prometheus Pushgateway (status: the secrets\' metrics; a run: its outcome)' -r
complete -c rotor -n "__fish_rotor_using_subcommand status" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand status" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand status" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand status" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand status" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l runbook -d 'A runbook file (repeatable)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l runbooks -d 'A directory of *.yaml runbooks, used when no --runbook is given' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l secret -d 'Only this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l provider -d 'Only targets of this kind (file, ...)' -r
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l target -d 'Only the target of this name (repeatable; a target\'s name, or its kind)' -r
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l shard -d 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N' -r
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand plan" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand plan" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand plan" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand check" -l runbook -d 'A runbook file (repeatable)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand check" -l runbooks -d 'A directory of *.yaml runbooks, used when no --runbook is given' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand check" -l secret -d 'Only this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand check" -l provider -d 'Only targets of this kind (file, ...)' -r
complete -c rotor -n "__fish_rotor_using_subcommand check" -l target -d 'Only the target of this name (repeatable; a target\'s name, or its kind)' -r
complete -c rotor -n "__fish_rotor_using_subcommand check" -l shard -d 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N' -r
complete -c rotor -n "__fish_rotor_using_subcommand check" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand check" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand check" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand check" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand check" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l runbook -d 'A runbook file (repeatable)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l runbooks -d 'A directory of *.yaml runbooks, used when no --runbook is given' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l secret -d 'Only this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l provider -d 'Only targets of this kind (file, ...)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l target -d 'Only the target of this name (repeatable; a target\'s name, or its kind)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l shard -d 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -s j -l jobs -d 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l reason -d 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l pushgateway -d 'Push metrics to this Prometheus Pushgateway (status: the secrets\' metrics; a run: its outcome)' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -s y -l yes -d 'Accepted for symmetry; rollback asks nothing'
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l force -d 'Abandon an interrupted run of the secret (its journal), or undo a rollback'
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -l dry-run -d 'Print the steps, touch nothing'
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand resume" -l secret -d 'Only this secret\'s interrupted run (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand resume" -l shard -d 'Only the interrupted runs of the secrets of shard K of N' -r
complete -c rotor -n "__fish_rotor_using_subcommand resume" -s j -l jobs -d 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)' -r
complete -c rotor -n "__fish_rotor_using_subcommand resume" -l reason -d 'Why: replaces the interrupted runs\' reason from here on' -r
complete -c rotor -n "__fish_rotor_using_subcommand resume" -l pushgateway -d 'Push metrics to this Prometheus Pushgateway (status: the secrets\' metrics; a run: its outcome)' -r
complete -c rotor -n "__fish_rotor_using_subcommand resume" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand resume" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand resume" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand resume" -s y -l yes -d 'Accepted for symmetry; resume asks nothing'
complete -c rotor -n "__fish_rotor_using_subcommand resume" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand resume" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -f -a "show" -d 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -f -a "verify" -d 'Check the hash chain; names the first edited, deleted or reordered line'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -f -a "export" -d 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -f -a "repair" -d 'Set a torn last line aside (power loss, full disk) and record the repair'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and not __fish_seen_subcommand_from show verify export repair help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l secret -d 'Only lines about this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l since -d 'Only lines at or after WHEN: an RFC 3339 time, or a duration ago (7d, 12h)' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l until -d 'Only lines before WHEN: an RFC 3339 time, or a duration ago' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l rotation -d 'Only lines of this rotation id' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l command -d 'Only lines of this command (rotate, retire-previous, rollback, resume; repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -l unverified -d 'Also show the lines after a break in the chain (they cannot be trusted)'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from verify" -l file -d 'Check an export (`rotor audit export`) against its chain proof (FILE.chain)' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from verify" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from verify" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from verify" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l secret -d 'Only lines about this secret (repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l since -d 'Only lines at or after WHEN: an RFC 3339 time, or a duration ago (7d, 12h)' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l until -d 'Only lines before WHEN: an RFC 3339 time, or a duration ago' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l rotation -d 'Only lines of this rotation id' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l command -d 'Only lines of this command (rotate, retire-previous, rollback, resume; repeatable)' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l to -d 'Where the export goes' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -l unverified -d 'Also show the lines after a break in the chain (they cannot be trusted)'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from repair" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from repair" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from repair" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from repair" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from repair" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check the hash chain; names the first edited, deleted or reordered line'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "repair" -d 'Set a torn last line aside (power loss, full disk) and record the repair'
complete -c rotor -n "__fish_rotor_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rotor -n "__fish_rotor_using_subcommand completions" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand completions" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand completions" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand completions" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand completions" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand man" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand man" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand man" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand man" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand man" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand schema" -l state-dir -d 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]' -r -F
complete -c rotor -n "__fish_rotor_using_subcommand schema" -l output -d 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout' -r -f -a "text\t''
json\t''
openmetrics\t''"
complete -c rotor -n "__fish_rotor_using_subcommand schema" -l context -d 'The kubeconfig context for Kubernetes targets and actions that name none' -r
complete -c rotor -n "__fish_rotor_using_subcommand schema" -s v -l verbose -d 'More logging (-v info, -vv debug); RUST_LOG overrides'
complete -c rotor -n "__fish_rotor_using_subcommand schema" -s h -l help -d 'Print help'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "rotate" -d 'Rotate: stage the new key, signal, monitor, promote, signal, monitor'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "retire-previous" -d 'Drop the previous key once the grace period is over'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "status" -d 'Show fingerprints, ages, grace, due state, interrupted runs and the lock holder'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "plan" -d 'Print every step a rotation would take, touching nothing'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "check" -d 'Preflight, writing nothing: runbooks parse, stores are reachable and allow what rotor will do, signal units exist, monitor endpoints answer'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "rollback" -d 'Make the previous key current again (or drop a staged pending key)'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "resume" -d 'Finish interrupted runs from their journal'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "audit" -d 'Show, export or verify the hash-chained audit log'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "completions" -d 'Print a shell completion script'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "man" -d 'Print the man page (roff)'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "schema" -d 'Print the JSON Schema (rotor/v1) every `--output json` document follows'
complete -c rotor -n "__fish_rotor_using_subcommand help; and not __fish_seen_subcommand_from rotate retire-previous status plan check rollback resume audit completions man schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rotor -n "__fish_rotor_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "show" -d 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)'
complete -c rotor -n "__fish_rotor_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "verify" -d 'Check the hash chain; names the first edited, deleted or reordered line'
complete -c rotor -n "__fish_rotor_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "export" -d 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine'
complete -c rotor -n "__fish_rotor_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "repair" -d 'Set a torn last line aside (power loss, full disk) and record the repair'
