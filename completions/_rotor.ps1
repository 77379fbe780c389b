
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'rotor' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'rotor'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'rotor' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Rotate: stage the new key, signal, monitor, promote, signal, monitor')
            [CompletionResult]::new('retire-previous', 'retire-previous', [CompletionResultType]::ParameterValue, 'Drop the previous key once the grace period is over')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show fingerprints, ages, grace, due state, interrupted runs and the lock holder')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Print every step a rotation would take, touching nothing')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Preflight, writing nothing: runbooks parse, stores are reachable and allow what rotor will do, signal units exist, monitor endpoints answer')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Make the previous key current again (or drop a staged pending key)')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Finish interrupted runs from their journal')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Show, export or verify the hash-chained audit log')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema (rotor/v1) every `--output json` document follows')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rotor;rotate' {
            [CompletionResult]::new('--runbook', '--runbook', [CompletionResultType]::ParameterName, 'A runbook file (repeatable)')
            [CompletionResult]::new('--runbooks', '--runbooks', [CompletionResultType]::ParameterName, 'A directory of *.yaml runbooks, used when no --runbook is given')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only this secret (repeatable)')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only targets of this kind (file, ...)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Only the target of this name (repeatable; a target''s name, or its kind)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N')
            [CompletionResult]::new('--key-file', '--key-file', [CompletionResultType]::ParameterName, 'Use this key instead of generating one ("-" reads stdin)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Emergency: bypass min_interval and a foreign pending key, write the new key alone (every old token dies at once)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (needed for --force without a terminal)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation (needed for --force without a terminal)')
            [CompletionResult]::new('--if-due', '--if-due', [CompletionResultType]::ParameterName, 'Only rotate secrets older than their max_age; exit 0 otherwise')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the steps, touch nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;retire-previous' {
            [CompletionResult]::new('--runbook', '--runbook', [CompletionResultType]::ParameterName, 'A runbook file (repeatable)')
            [CompletionResult]::new('--runbooks', '--runbooks', [CompletionResultType]::ParameterName, 'A directory of *.yaml runbooks, used when no --runbook is given')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only this secret (repeatable)')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only targets of this kind (file, ...)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Only the target of this name (repeatable; a target''s name, or its kind)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Retire before the grace period is over (asks for confirmation)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the steps, touch nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;status' {
            [CompletionResult]::new('--runbook', '--runbook', [CompletionResultType]::ParameterName, 'A runbook file (repeatable)')
            [CompletionResult]::new('--runbooks', '--runbooks', [CompletionResultType]::ParameterName, 'A directory of *.yaml runbooks, used when no --runbook is given')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only this secret (repeatable)')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only targets of this kind (file, ...)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Only the target of this name (repeatable; a target''s name, or its kind)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N')
            [CompletionResult]::new('--textfile', '--textfile', [CompletionResultType]::ParameterName, 'Also write the metrics to DIR/rotor.prom, atomically (node_exporter''s textfile collector)')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;plan' {
            [CompletionResult]::new('--runbook', '--runbook', [CompletionResultType]::ParameterName, 'A runbook file (repeatable)')
            [CompletionResult]::new('--runbooks', '--runbooks', [CompletionResultType]::ParameterName, 'A directory of *.yaml runbooks, used when no --runbook is given')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only this secret (repeatable)')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only targets of this kind (file, ...)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Only the target of this name (repeatable; a target''s name, or its kind)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;check' {
            [CompletionResult]::new('--runbook', '--runbook', [CompletionResultType]::ParameterName, 'A runbook file (repeatable)')
            [CompletionResult]::new('--runbooks', '--runbooks', [CompletionResultType]::ParameterName, 'A directory of *.yaml runbooks, used when no --runbook is given')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only this secret (repeatable)')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only targets of this kind (file, ...)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Only the target of this name (repeatable; a target''s name, or its kind)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;rollback' {
            [CompletionResult]::new('--runbook', '--runbook', [CompletionResultType]::ParameterName, 'A runbook file (repeatable)')
            [CompletionResult]::new('--runbooks', '--runbooks', [CompletionResultType]::ParameterName, 'A directory of *.yaml runbooks, used when no --runbook is given')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only this secret (repeatable)')
            [CompletionResult]::new('--provider', '--provider', [CompletionResultType]::ParameterName, 'Only targets of this kind (file, ...)')
            [CompletionResult]::new('--target', '--target', [CompletionResultType]::ParameterName, 'Only the target of this name (repeatable; a target''s name, or its kind)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is in shard sha256(name)[..8] as a big-endian integer, mod N')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: a ticket or change number and a few words, kept in the audit log, the journal and the JSON output')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Accepted for symmetry; rollback asks nothing')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Accepted for symmetry; rollback asks nothing')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Abandon an interrupted run of the secret (its journal), or undo a rollback')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the steps, touch nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;resume' {
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only this secret''s interrupted run (repeatable)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Only the interrupted runs of the secrets of shard K of N')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many secrets write at once; all move through the phases together (1: one secret after another, each through all its phases)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: replaces the interrupted runs'' reason from here on')
            [CompletionResult]::new('--pushgateway', '--pushgateway', [CompletionResultType]::ParameterName, 'Push metrics to this Prometheus Pushgateway (status: the secrets'' metrics; a run: its outcome)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Accepted for symmetry; resume asks nothing')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Accepted for symmetry; resume asks nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;audit' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the hash chain; names the first edited, deleted or reordered line')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine')
            [CompletionResult]::new('repair', 'repair', [CompletionResultType]::ParameterValue, 'Set a torn last line aside (power loss, full disk) and record the repair')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rotor;audit;show' {
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only lines about this secret (repeatable)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only lines at or after WHEN: an RFC 3339 time, or a duration ago (7d, 12h)')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only lines before WHEN: an RFC 3339 time, or a duration ago')
            [CompletionResult]::new('--rotation', '--rotation', [CompletionResultType]::ParameterName, 'Only lines of this rotation id')
            [CompletionResult]::new('--command', '--command', [CompletionResultType]::ParameterName, 'Only lines of this command (rotate, retire-previous, rollback, resume; repeatable)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('--unverified', '--unverified', [CompletionResultType]::ParameterName, 'Also show the lines after a break in the chain (they cannot be trusted)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;audit;verify' {
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Check an export (`rotor audit export`) against its chain proof (FILE.chain)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;audit;export' {
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Only lines about this secret (repeatable)')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only lines at or after WHEN: an RFC 3339 time, or a duration ago (7d, 12h)')
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Only lines before WHEN: an RFC 3339 time, or a duration ago')
            [CompletionResult]::new('--rotation', '--rotation', [CompletionResultType]::ParameterName, 'Only lines of this rotation id')
            [CompletionResult]::new('--command', '--command', [CompletionResultType]::ParameterName, 'Only lines of this command (rotate, retire-previous, rollback, resume; repeatable)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Where the export goes')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('--unverified', '--unverified', [CompletionResultType]::ParameterName, 'Also show the lines after a break in the chain (they cannot be trusted)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;audit;repair' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;audit;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the hash chain; names the first edited, deleted or reordered line')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine')
            [CompletionResult]::new('repair', 'repair', [CompletionResultType]::ParameterValue, 'Set a torn last line aside (power loss, full disk) and record the repair')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rotor;audit;help;show' {
            break
        }
        'rotor;audit;help;verify' {
            break
        }
        'rotor;audit;help;export' {
            break
        }
        'rotor;audit;help;repair' {
            break
        }
        'rotor;audit;help;help' {
            break
        }
        'rotor;completions' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;man' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;schema' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format; json prints one document on stdout and progress on stderr; openmetrics (status only) prints Prometheus metrics on stdout')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context for Kubernetes targets and actions that name none')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging (-v info, -vv debug); RUST_LOG overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rotor;help' {
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Rotate: stage the new key, signal, monitor, promote, signal, monitor')
            [CompletionResult]::new('retire-previous', 'retire-previous', [CompletionResultType]::ParameterValue, 'Drop the previous key once the grace period is over')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show fingerprints, ages, grace, due state, interrupted runs and the lock holder')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Print every step a rotation would take, touching nothing')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Preflight, writing nothing: runbooks parse, stores are reachable and allow what rotor will do, signal units exist, monitor endpoints answer')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Make the previous key current again (or drop a staged pending key)')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Finish interrupted runs from their journal')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'Show, export or verify the hash-chained audit log')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff)')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema (rotor/v1) every `--output json` document follows')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rotor;help;rotate' {
            break
        }
        'rotor;help;retire-previous' {
            break
        }
        'rotor;help;status' {
            break
        }
        'rotor;help;plan' {
            break
        }
        'rotor;help;check' {
            break
        }
        'rotor;help;rollback' {
            break
        }
        'rotor;help;resume' {
            break
        }
        'rotor;help;audit' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the audit log: reason, actor, targets and fingerprints of each step (--output json: the lines as stored)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the hash chain; names the first edited, deleted or reordered line')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the verified log, or a filtered part, to FILE with a chain proof beside it (FILE.chain) that `rotor audit verify --file FILE` checks on another machine')
            [CompletionResult]::new('repair', 'repair', [CompletionResultType]::ParameterValue, 'Set a torn last line aside (power loss, full disk) and record the repair')
            break
        }
        'rotor;help;audit;show' {
            break
        }
        'rotor;help;audit;verify' {
            break
        }
        'rotor;help;audit;export' {
            break
        }
        'rotor;help;audit;repair' {
            break
        }
        'rotor;help;completions' {
            break
        }
        'rotor;help;man' {
            break
        }
        'rotor;help;schema' {
            break
        }
        'rotor;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
