/**
 * @file Tree-sitter grammar for `.chaos`, the chaos-engineering scenario language.
 *
 * It follows grammar/src/chaos.pest (the language's one real grammar) construct by construct,
 * with the same names where it can; editors/test.sh parses every scenario with it. Like the pest
 * grammar it does not check units or names (the compiler does): `quantity` is any number with
 * the characters units are made of (`250ms`, `1m30s`, `400/s`, `20%`, `x3`, `64KiB`).
 * Keywords are words (`word: identifier`), so a keyword is only a keyword where the language
 * expects it: `queue 100 lifo` reads `lifo` as a name, and a `restart` on the next line as the
 * next setting, as the pest grammar does with its same-line rule.
 */

/// A comma-separated list of at least one `rule`.
function commaSep1(rule) {
  return seq(rule, repeat(seq(',', rule)));
}

module.exports = grammar({
  name: 'chaos',

  word: $ => $.identifier,

  extras: $ => [/\s/, $.comment],

  rules: {
    source_file: $ => repeat($._item),

    _item: $ => choice(
      $.import,
      $.param,
      $.scenario,
      $.service,
      $.workload,
      $.fault,
      $.expect,
      $.explore,
    ),

    // ---------------------------------------------------------------------------------------
    // Lexical

    comment: _ => token(seq('#', /.*/)),

    /// `[a-z_][a-z0-9_-]*`; a `-` must be followed by a name character, so `$a->b` reads as
    /// `$a -> b`.
    identifier: _ => /[a-z_][a-z0-9_]*(-[a-z0-9_]+)*/,

    /// `"..."` on one line, with `\"` and `\\` escapes.
    string: $ => seq('"', repeat(choice($.string_content, $.escape_sequence)), token.immediate('"')),
    string_content: _ => token.immediate(prec(1, /[^"\\\n]+/)),
    escape_sequence: _ => token.immediate(/\\["\\]/),

    /// A number with its unit (`250ms`, `1m30s`, `400/s`, `20%`, `3x`, `x3`, `64KiB`,
    /// `20MiB/s`, `250µs`); a `.` only before a digit, so `2..8` is two numbers.
    quantity: _ => token(prec(1, /([0-9]|x[0-9])([A-Za-z0-9%\/µ]|\.[0-9])*/)),
    /// `$peak`: a param's value.
    param_ref: _ => /\$[a-z_][a-z0-9_]*(-[a-z0-9_]+)*/,
    _value: $ => choice($.quantity, $.param_ref),

    // ---------------------------------------------------------------------------------------
    // Items

    /// `import "path.chaos"`
    import: $ => seq('import', field('path', $.string)),

    /// `param NAME = VALUE`
    param: $ => seq('param', field('name', $.identifier), '=', field('value', $._value)),

    /// `scenario "title" { duration D  warmup D  seed N  window D  hop D }`
    scenario: $ => seq(
      'scenario',
      field('title', $.string),
      '{',
      repeat(choice($.duration, $.warmup, $.seed, $.window_width, $.hop)),
      '}',
    ),
    duration: $ => seq('duration', $._value),
    warmup: $ => seq('warmup', $._value),
    seed: $ => seq('seed', $._value),
    window_width: $ => seq('window', $._value),
    hop: $ => seq('hop', $._value),

    // ---------------------------------------------------------------------------------------
    // Services

    /// `service NAME { SETTINGS }`
    service: $ => seq(
      'service',
      field('name', $.identifier),
      '{',
      repeat($._service_setting),
      '}',
    ),
    _service_setting: $ => choice(
      $.endpoint,
      $.replicas,
      $.latency,
      $.workers,
      $.queue,
      $.rate_limit,
      $.restart,
      $.balance,
      $.autoscale,
      $.health_check,
      $.eject,
    ),
    replicas: $ => seq('replicas', $._value),
    /// `autoscale MIN..MAX target RATIO [delay D] [interval D]` or
    /// `autoscale MIN..MAX up above RATIO down below RATIO [delay D] [interval D]`
    autoscale: $ => seq(
      'autoscale',
      field('min', $._value),
      '..',
      field('max', $._value),
      choice(
        seq('target', field('target', $._value)),
        seq('up', 'above', field('up', $._value), 'down', 'below', field('down', $._value)),
      ),
      optional(seq('delay', field('delay', $._value))),
      optional(seq('interval', field('interval', $._value))),
    ),
    workers: $ => seq('workers', $._value),
    /// `queue N [fifo|lifo]`
    queue: $ => seq('queue', $._value, optional(field('discipline', $.identifier))),
    /// `health_check every D [timeout D] [unhealthy N] [healthy N]`
    health_check: $ => seq(
      'health_check',
      'every',
      field('every', $._value),
      optional(seq('timeout', field('timeout', $._value))),
      optional(seq('unhealthy', field('unhealthy', $._value))),
      optional(seq('healthy', field('healthy', $._value))),
    ),
    /// `eject after N errors for D [max RATIO]`
    eject: $ => seq(
      'eject',
      'after',
      field('errors', $._value),
      'errors',
      'for',
      field('for', $._value),
      optional(seq('max', field('max', $._value))),
    ),
    rate_limit: $ => seq('rate_limit', $._value),
    restart: $ => seq('restart', $._value),
    /// `balance round_robin`
    balance: $ => seq('balance', $.identifier),
    /// An endpoint's default work.
    latency: $ => seq('latency', $._dist),
    /// `endpoint "GET /x" { STEPS }`
    endpoint: $ => seq('endpoint', field('name', $.string), '{', repeat($._step), '}'),

    // ---------------------------------------------------------------------------------------
    // Steps

    _step: $ => choice($.call, $.send, $.work, $.fail, $.parallel, $.choice),
    /// `work DIST`
    work: $ => seq('work', $._dist),
    /// `call SERVICE "ENDPOINT" [{ POLICIES }] POLICIES`
    call: $ => seq(
      'call',
      field('service', $.identifier),
      field('endpoint', $.string),
      optional($.policy_block),
      repeat($._policy),
    ),
    /// `send SERVICE "ENDPOINT"`: fire-and-forget (policies parse so the compiler can say a
    /// send has none).
    send: $ => seq(
      'send',
      field('service', $.identifier),
      field('endpoint', $.string),
      optional($.policy_block),
      repeat($._policy),
    ),
    policy_block: $ => seq('{', repeat($._policy), '}'),
    /// `parallel { STEPS }`
    parallel: $ => seq('parallel', '{', repeat($._step), '}'),
    /// `choice { WEIGHT => STEP ... }`
    choice: $ => seq('choice', '{', repeat($.branch), '}'),
    /// `70% => STEP` or `70% => { STEPS }`
    branch: $ => seq(
      field('weight', $._value),
      '=>',
      choice($.block, $._step),
    ),
    block: $ => seq('{', repeat($._step), '}'),
    /// `fail RATIO [status CODE]`
    fail: $ => seq('fail', $._value, optional($.status)),
    status: $ => seq('status', $._value),

    // ---------------------------------------------------------------------------------------
    // Call policies

    _policy: $ => choice($.timeout, $.retry, $.circuit_breaker, $.on_error, $.priority),
    timeout: $ => seq('timeout', $._value),
    /// `retry N [backoff DIST] [jitter none|full|equal]`
    retry: $ => seq(
      'retry',
      field('count', $._value),
      optional(seq('backoff', field('backoff', $._dist))),
      optional(seq('jitter', field('jitter', $.identifier))),
    ),
    /// `circuit_breaker RATIO over D min N open D`
    circuit_breaker: $ => seq(
      'circuit_breaker',
      field('ratio', $._value),
      'over',
      field('over', $._value),
      'min',
      field('min', $._value),
      'open',
      field('open', $._value),
    ),
    /// `on_error continue`
    on_error: $ => seq('on_error', $.identifier),
    /// `priority N`: a call policy and a workload setting.
    priority: $ => seq('priority', $._value),

    // ---------------------------------------------------------------------------------------
    // Distributions

    /// `5ms` or `exponential(mean = 5ms)`
    _dist: $ => choice($._value, $.distribution),
    distribution: $ => seq(
      field('name', $.identifier),
      '(',
      optional(seq(commaSep1($.argument), optional(','))),
      ')',
    ),
    /// `mean = 5ms` or `5ms`
    argument: $ => seq(optional(seq(field('name', $.identifier), '=')), field('value', $._value)),

    // ---------------------------------------------------------------------------------------
    // Workloads

    /// `workload NAME { SETTINGS }`
    workload: $ => seq(
      'workload',
      field('name', $.identifier),
      '{',
      repeat($._workload_setting),
      '}',
    ),
    _workload_setting: $ => choice(
      $.target,
      $.rate,
      $.spike,
      $.arrivals,
      $.timeout,
      $.users,
      $.priority,
    ),
    /// `target SERVICE "ENDPOINT"`
    target: $ => seq('target', field('service', $.identifier), field('endpoint', $.string)),
    /// `rate A -> B over D, B for D, ...`
    rate: $ => seq('rate', commaSep1($.segment)),
    segment: $ => seq(
      field('from', $._value),
      optional(seq('->', field('to', $._value))),
      optional(choice(
        seq('over', field('over', $._value)),
        seq('for', field('for', $._value)),
      )),
    ),
    /// `spike RATE at T for D`
    spike: $ => seq('spike', field('rate', $._value), 'at', field('at', $._value), 'for', field('for', $._value)),
    /// `arrivals poisson|uniform`
    arrivals: $ => seq('arrivals', $.identifier),
    /// `users N [-> M over D] think DIST`
    users: $ => seq(
      'users',
      field('from', $._value),
      optional(seq('->', field('to', $._value), 'over', field('over', $._value))),
      'think',
      field('think', $._dist),
    ),

    // ---------------------------------------------------------------------------------------
    // Faults

    /// `fault NAME SCHEDULE { ACTIONS }`
    fault: $ => seq(
      'fault',
      field('name', $.identifier),
      field('schedule', choice($.at, $.every)),
      '{',
      repeat($._action),
      '}',
    ),
    /// `at T [for D]`
    at: $ => seq('at', $._value, optional(seq('for', field('for', $._value)))),
    /// `every D [from T] [until T] [for D]`
    every: $ => seq(
      'every',
      $._value,
      optional(seq('from', field('from', $._value))),
      optional(seq('until', field('until', $._value))),
      optional(seq('for', field('for', $._value))),
    ),
    _action: $ => choice(
      $.latency_fault,
      $.errors_fault,
      $.kill,
      $.partition,
      $.cpu,
      $.loss,
      $.memory,
    ),
    /// `latency +DIST on TARGET`
    latency_fault: $ => seq('latency', optional('+'), $._dist, $.on),
    /// `errors RATIO [status CODE] on TARGET`
    errors_fault: $ => seq('errors', $._value, optional($.status), $.on),
    /// `kill N of SERVICE` or `kill N of random(A, B)`; a service may be called `random`.
    kill: $ => seq(
      'kill',
      $._value,
      'of',
      choice($.random, field('service', choice($.identifier, alias('random', $.identifier)))),
    ),
    random: $ => seq('random', '(', commaSep1($.identifier), optional(','), ')'),
    /// `partition A, B | C`
    partition: $ => seq('partition', $.side, '|', $.side),
    side: $ => commaSep1($.identifier),
    /// `cpu x3 on TARGET`
    cpu: $ => seq('cpu', $._value, $.on),
    /// `loss RATIO on TARGET`
    loss: $ => seq('loss', $._value, $.on),
    /// `memory 20MiB/s on SERVICE limit 512MiB`
    memory: $ => seq('memory', $._value, $.on, 'limit', field('limit', $._value)),
    /// `on [N of | N% of] SERVICE ["ENDPOINT"]`
    on: $ => seq(
      'on',
      optional(seq(field('replicas', $._value), 'of')),
      field('service', $.identifier),
      optional(field('endpoint', $.string)),
    ),

    // ---------------------------------------------------------------------------------------
    // Expectations

    /// `expect { CHECKS  abort when CONDITION for D }`
    expect: $ => seq('expect', '{', repeat(choice($.abort, $.check)), '}'),
    /// `abort when CONDITION for D`
    abort: $ => seq('abort', 'when', $.condition, 'for', field('for', $._value)),
    /// `CONDITION [WINDOW]`
    check: $ => seq($.condition, optional($._window)),
    /// `METRIC(SUBJECT) OP VALUE`
    condition: $ => seq(
      field('metric', $.identifier),
      '(',
      field('subject', $.subject),
      ')',
      field('operator', $.operator),
      field('threshold', $._value),
    ),
    /// `gateway`, `gateway "GET /x"` or a workload's name.
    subject: $ => seq(field('name', $.identifier), optional(field('endpoint', $.string))),
    operator: _ => choice('<=', '>=', '==', '!=', '<', '>'),
    _window: $ => choice($.overall, $.during, $.before, $.after, $.between),
    overall: _ => 'overall',
    during: $ => seq('during', field('fault', $.identifier)),
    before: $ => seq('before', field('fault', $.identifier)),
    /// `after F [+ D] [for D]`
    after: $ => seq(
      'after',
      field('fault', $.identifier),
      optional(seq('+', field('plus', $._value))),
      optional(seq('for', field('for', $._value))),
    ),
    /// `between T and T`
    between: $ => seq('between', field('from', $._value), 'and', field('to', $._value)),

    // ---------------------------------------------------------------------------------------
    // Explore

    /// `explore { LINES }`: the search space of `chaos explore`.
    explore: $ => seq('explore', '{', repeat($._explore_line), '}'),
    /// The fault line comes last, as in the pest grammar: its kind is any name, checked by the
    /// compiler (`at`, `for`, `partition` and `max_faults` are keywords where a line starts).
    _explore_line: $ => choice(
      $.max_faults,
      $.explore_at,
      $.explore_for,
      $.explore_partition,
      $.explore_fault,
    ),
    /// `max_faults N`
    max_faults: $ => seq('max_faults', $._value),
    /// `at RANGE`
    explore_at: $ => seq('at', $.range),
    /// `for RANGE`
    explore_for: $ => seq('for', $.range),
    /// `partition A, B | C` or `partition *`
    explore_partition: $ => seq('partition', choice($.all, seq($.side, '|', $.side))),
    /// `KIND [RANGE] on TARGETS [limit SIZE]` (`kill … of TARGETS`)
    explore_fault: $ => seq(
      field('kind', $.identifier),
      optional('+'),
      optional($.range),
      choice('on', 'of'),
      choice($.all, commaSep1(field('service', $.identifier))),
      optional(seq('limit', field('limit', $._value))),
    ),
    /// `up to HIGH`, `LOW..HIGH` or one `VALUE`
    range: $ => choice(
      seq('up', 'to', field('high', $._value)),
      seq(field('low', $._value), '..', field('high', $._value)),
      field('high', $._value),
    ),
    /// `*`: every service (every call edge for `partition`).
    all: _ => '*',
  },
});
