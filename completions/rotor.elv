
use builtin;
use str;

set edit:completion:arg-completer[rotor] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'rotor'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'rotor'= {
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand rotate 'Rotate: stage the new key, signal, monitor, promote, signal, monitor'
            cand retire-previous 'Drop the previous key once the grace period is over'
            cand status 'Show fingerprints, ages, grace, due state, interrupted runs and the lock holder'
            cand plan 'Print every step a rotation would take, touching nothing'
            cand check 'Preflight, writing nothing: runbooks parse, stores are reachable and allow what rotor will do, signal units exist, monitor endpoints answer'
            cand rollback 'Make the previous key current again (or drop a staged pending key)'
            cand resume 'Finish interrupted runs from their journal'
            cand audit 'Show, export or verify the hash-chained audit log'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page (roff)'
            cand schema 'Print the JSON Schema (rotor/v1) every `--output json` document follows'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'rotor;rotate'= {
            cand --runbook 'A runbook file (repeatable)'
            cand --runbooks 'A directory of *.yaml runbooks, used when no --runbook is given'
            cand --secret 'Only this secret (repeatable)'
            cand --provider 'Only targets of this kind (file, ...)'
            cand --target 'Only the target of this name (repeatable; a target''s name, or its kind)'
            cand --shard 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N'
            cand --key-file 'Use this key instead of generating one ("-" reads stdin)'
            cand -j 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --jobs 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --reason 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output'
            cand --pushgateway 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand --force 'Emergency: bypass min_interval and a foreign pending key, write the new key alone (every old token dies at once)'
            cand -y 'Do not ask for confirmation (needed for --force without a terminal)'
            cand --yes 'Do not ask for confirmation (needed for --force without a terminal)'
            cand --if-due 'Only rotate secrets older than their max_age; exit 0 otherwise'
            cand --dry-run 'Print the steps, touch nothing'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;retire-previous'= {
            cand --runbook 'A runbook file (repeatable)'
            cand --runbooks 'A directory of *.yaml runbooks, used when no --runbook is given'
            cand --secret 'Only this secret (repeatable)'
            cand --provider 'Only targets of this kind (file, ...)'
            cand --target 'Only the target of this name (repeatable; a target''s name, or its kind)'
            cand --shard 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N'
            cand -j 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --jobs 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --reason 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output'
            cand --pushgateway 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand --force 'Retire before the grace period is over (asks for confirmation)'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --dry-run 'Print the steps, touch nothing'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;status'= {
            cand --runbook 'A runbook file (repeatable)'
            cand --runbooks 'A directory of *.yaml runbooks, used when no --runbook is given'
            cand --secret 'Only this secret (repeatable)'
            cand --provider 'Only targets of this kind (file, ...)'
            cand --target 'Only the target of this name (repeatable; a target''s name, or its kind)'
            cand --shard 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N'
            cand --textfile 'Also write the metrics to DIR/rotor.prom, atomically (node_exporter''s textfile collector)'
            cand --pushgateway 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;plan'= {
            cand --runbook 'A runbook file (repeatable)'
            cand --runbooks 'A directory of *.yaml runbooks, used when no --runbook is given'
            cand --secret 'Only this secret (repeatable)'
            cand --provider 'Only targets of this kind (file, ...)'
            cand --target 'Only the target of this name (repeatable; a target''s name, or its kind)'
            cand --shard 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;check'= {
            cand --runbook 'A runbook file (repeatable)'
            cand --runbooks 'A directory of *.yaml runbooks, used when no --runbook is given'
            cand --secret 'Only this secret (repeatable)'
            cand --provider 'Only targets of this kind (file, ...)'
            cand --target 'Only the target of this name (repeatable; a target''s name, or its kind)'
            cand --shard 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;rollback'= {
            cand --runbook 'A runbook file (repeatable)'
            cand --runbooks 'A directory of *.yaml runbooks, used when no --runbook is given'
            cand --secret 'Only this secret (repeatable)'
            cand --provider 'Only targets of this kind (file, ...)'
            cand --target 'Only the target of this name (repeatable; a target''s name, or its kind)'
            cand --shard 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N'
            cand -j 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --jobs 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --reason 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output'
            cand --pushgateway 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -y 'Accepted for symmetry; rollback asks nothing'
            cand --yes 'Accepted for symmetry; rollback asks nothing'
            cand --force 'Abandon an interrupted run of the secret (its journal), or undo a rollback'
            cand --dry-run 'Print the steps, touch nothing'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;resume'= {
            cand --secret 'Only this secret''s interrupted run (repeatable)'
            cand --shard 'Only the interrupted runs of the secrets of shard K of N'
            cand -j 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --jobs 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)'
            cand --reason 'Why: replaces the interrupted runs'' reason from here on'
            cand --pushgateway 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -y 'Accepted for symmetry; resume asks nothing'
            cand --yes 'Accepted for symmetry; resume asks nothing'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;audit'= {
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand show 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)'
            cand verify 'Check the hash chain; names the first edited, deleted or reordered line'
            cand export 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine'
            cand repair 'Set a torn last line aside (power loss, full disk) and record the repair'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'rotor;audit;show'= {
            cand --secret 'Only lines about this secret (repeatable)'
            cand --since 'Only lines at or after WHEN: an RFC 3339 time, or a duration ago (7d, 12h)'
            cand --until 'Only lines before WHEN: an RFC 3339 time, or a duration ago'
            cand --rotation 'Only lines of this rotation id'
            cand --command 'Only lines of this command (rotate, retire-previous, rollback, resume; repeatable)'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand --unverified 'Also show the lines after a break in the chain (they cannot be trusted)'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;audit;verify'= {
            cand --file 'Check an export (`rotor audit export`) against its chain proof (FILE.chain)'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;audit;export'= {
            cand --secret 'Only lines about this secret (repeatable)'
            cand --since 'Only lines at or after WHEN: an RFC 3339 time, or a duration ago (7d, 12h)'
            cand --until 'Only lines before WHEN: an RFC 3339 time, or a duration ago'
            cand --rotation 'Only lines of this rotation id'
            cand --command 'Only lines of this command (rotate, retire-previous, rollback, resume; repeatable)'
            cand --to 'Where the export goes'
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand --unverified 'Also show the lines after a break in the chain (they cannot be trusted)'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;audit;repair'= {
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;audit;help'= {
            cand show 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)'
            cand verify 'Check the hash chain; names the first edited, deleted or reordered line'
            cand export 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine'
            cand repair 'Set a torn last line aside (power loss, full disk) and record the repair'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'rotor;audit;help;show'= {
        }
        &'rotor;audit;help;verify'= {
        }
        &'rotor;audit;help;export'= {
        }
        &'rotor;audit;help;repair'= {
        }
        &'rotor;audit;help;help'= {
        }
        &'rotor;completions'= {
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;man'= {
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;schema'= {
            cand --state-dir 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]'
            cand --output 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout'
            cand --context 'The kubeconfig context for Kubernetes targets and actions that name none'
            cand -v 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand --verbose 'More logging (-v info, -vv debug); RUST_LOG overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'rotor;help'= {
            cand rotate 'Rotate: stage the new key, signal, monitor, promote, signal, monitor'
            cand retire-previous 'Drop the previous key once the grace period is over'
            cand status 'Show fingerprints, ages, grace, due state, interrupted runs and the lock holder'
            cand plan 'Print every step a rotation would take, touching nothing'
            cand check 'Preflight, writing nothing: runbooks parse, stores are reachable and allow what rotor will do, signal units exist, monitor endpoints answer'
            cand rollback 'Make the previous key current again (or drop a staged pending key)'
            cand resume 'Finish interrupted runs from their journal'
            cand audit 'Show, export or verify the hash-chained audit log'
            cand completions 'Print a shell completion script'
            cand man 'Print the man page (roff)'
            cand schema 'Print the JSON Schema (rotor/v1) every `--output json` document follows'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'rotor;help;rotate'= {
        }
        &'rotor;help;retire-previous'= {
        }
        &'rotor;help;status'= {
        }
        &'rotor;help;plan'= {
        }
        &'rotor;help;check'= {
        }
        &'rotor;help;rollback'= {
        }
        &'rotor;help;resume'= {
        }
        &'rotor;help;audit'= {
            cand show 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)'
            cand verify 'Check the hash chain; names the first edited, deleted or reordered line'
            cand export 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine'
            cand repair 'Set a torn last line aside (power loss, full disk) and record the repair'
        }
        &'rotor;help;audit;show'= {
        }
        &'rotor;help;audit;verify'= {
        }
        &'rotor;help;audit;export'= {
        }
        &'rotor;help;audit;repair'= {
        }
        &'rotor;help;completions'= {
        }
        &'rotor;help;man'= {
        }
        &'rotor;help;schema'= {
        }
        &'rotor;help;help'= {
        }
    ]
    $completions[$command]
}
