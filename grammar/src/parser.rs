//! Text to syntax tree: runs the pest grammar (`chaos.pest`) and lowers its pairs into
//! [`crate::ast`], with a byte span on every node.
//!
//! Lowering never unwraps: a pair the grammar should have produced but did not becomes an
//! internal error, so a grammar/lowering mismatch is a bug report, not a crash.

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};

use crate::ast::*;
use crate::error::{ParseError, ParseErrorKind};
use crate::{comments, diagnose, units};

#[derive(pest_derive::Parser)]
#[grammar = "chaos.pest"]
pub(crate) struct ChaosParser;

type P<'i> = Pair<'i, Rule>;
type Res<T> = Result<T, ParseError>;

/// Deepest nesting of `{ }` and `( )` accepted. Real scenarios nest a handful of levels;
/// the limit keeps adversarial input from exhausting the stack of the recursive parser.
pub const MAX_NESTING: usize = 64;

/// Parses one `.chaos` file.
pub fn parse(source: &str) -> Result<File, ParseError> {
    check_nesting(source)?;
    // No `pest::set_call_limit`: counting every rule call cost ~5% of parse time, and the
    // grammar needs no such bound. Its alternatives start with distinct tokens (keywords,
    // `{`, a value), so a failed alternative gives up within a few tokens and nothing is
    // re-parsed: parse time is linear in the input. Recursion is bounded by `check_nesting`
    // above (and pest's own stack guard stays on). `tests/robustness.rs` holds the proofs
    // in practice: deep nesting, long runs of braces and random bytes all fail fast.

    parse_split_from(source, PARALLEL_FROM_BYTES)
}

/// [`parse`], splitting files of at least `min_len` bytes in two.
fn parse_split_from(source: &str, min_len: usize) -> Res<File> {
    let (comments, text) = comments::split(source);
    let items = match split_point(&text, min_len) {
        // Any error is reported by the whole-file parse, so diagnostics never depend on
        // where the file was split.
        Some(at) => parse_halves(&text, at).or_else(|_| parse_items(source, &text))?,
        None => parse_items(source, &text)?,
    };
    Ok(File { items, comments })
}

/// Files at least this large are parsed in two halves on two threads. Below it a thread
/// costs more than it saves; a 2,000-service scenario (1.2 MB) parses in about half the time.
const PARALLEL_FROM_BYTES: usize = 256 * 1024;

/// The items of `text` (comment-blanked source), parsed on one thread.
fn parse_items(source: &str, text: &str) -> Res<Vec<Item>> {
    let mut pairs =
        ChaosParser::parse(Rule::file, text).map_err(|e| diagnose::convert(source, e))?;
    let file = pairs
        .next()
        .ok_or_else(|| ParseError::internal(Span::new(0, source.len()), "no file"))?;
    lower_items(file)
}

fn lower_items(file: P) -> Res<Vec<Item>> {
    let mut items = Vec::new();
    for item in file.into_inner() {
        match item.as_rule() {
            Rule::item => items.push(lower_item(item)?),
            Rule::EOI | Rule::head_skipped => {}
            r => return Err(unexpected(&item, r)),
        }
    }
    Ok(items)
}

/// A byte near the middle of `text` where one top-level item ends and the next may begin:
/// a space or newline right after a `}` that closes a top-level block. Every top-level item
/// with a block ends at its closing `}`, so the items before and after it parse on their own
/// exactly as they do within the whole file. `None` for small files, for files holding the
/// marker byte, or when no such place exists in the second half.
fn split_point(text: &str, min_len: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.len() < min_len.max(2) || bytes.contains(&MARKER) {
        return None;
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    let middle = bytes.len() / 2;
    let mut depth = 0usize;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Strings end at their quote or at the end of the line (comments are blanked).
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'(' => depth += 1,
            b'}' | b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0
                    && bytes[i] == b'}'
                    && i >= middle
                    && matches!(bytes[i + 1], b' ' | b'\n')
                {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Written over the whitespace byte at the split point for the second half's parse.
const MARKER: u8 = 0x01;

/// The items before `at` on this thread and the items after it on another; `Err` if either
/// half does not parse (the caller then parses the whole file for its diagnostics).
fn parse_halves(text: &str, at: usize) -> Res<Vec<Item>> {
    let mut marked = text.as_bytes().to_vec();
    marked[at] = MARKER;
    let marked = String::from_utf8(marked)
        .map_err(|_| ParseError::internal(Span::new(at, at + 1), "split inside a character"))?;
    let (head, tail) = std::thread::scope(|scope| {
        let tail = scope.spawn(|| {
            ChaosParser::parse(Rule::file_tail, &marked)
                .map_err(|e| diagnose::convert(text, e))
                .and_then(|mut pairs| match pairs.next() {
                    Some(file) => lower_items(file),
                    None => Err(ParseError::internal(Span::new(at, at), "no file")),
                })
        });
        let head = parse_items(text, &text[..at]);
        let tail = tail
            .join()
            .unwrap_or_else(|_| Err(ParseError::internal(Span::new(at, at), "parser thread")));
        (head, tail)
    });
    let mut items = head?;
    items.extend(tail?);
    Ok(items)
}

/// Rejects input nested deeper than [`MAX_NESTING`] before pest sees it. Brackets inside
/// strings and comments do not count.
fn check_nesting(source: &str) -> Res<()> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ParseError {
                        kind: ParseErrorKind::TooDeep,
                        span: Span::new(i, i + 1),
                        message: format!("blocks are nested more than {MAX_NESTING} levels deep"),
                        expected: Vec::new(),
                        hint: Some("flatten the `parallel`/`choice` blocks, or split the endpoint into services".into()),
                        fix: None,
                    });
                }
            }
            b'}' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The span of a pair without the whitespace and comments that pest skips after a trailing
/// optional part (`call x "y"` followed by nothing still tried `policy*` after skipping them).
fn span(p: &P) -> Span {
    Span::new(p.as_span().start(), trimmed_end(p))
}

/// End of the last token in `p`: keywords and punctuation are pairs too, so the last leaf
/// ends exactly at the last character written. Atomic rules (strings) contain no skipped text.
///
/// Fast path: skipped text always ends with whitespace (a comment is followed by its newline,
/// which the skip then consumes) or at the end of the input, and no token ends with
/// whitespace. So a pair whose last byte is not whitespace, ending before the end of the
/// input, has no trailing skipped text and needs no walk down its last children.
fn trimmed_end(p: &P) -> usize {
    let sp = p.as_span();
    let end = sp.end();
    match p.as_str().as_bytes().last() {
        None => return end,
        Some(b' ' | b'\t' | b'\r' | b'\n') => {}
        Some(_) if end < p.get_input().len() => return end,
        Some(_) => {}
    }
    trimmed_end_walk(p)
}

fn trimmed_end_walk(p: &P) -> usize {
    if matches!(
        p.as_rule(),
        Rule::string
            | Rule::ident
            | Rule::name
            | Rule::cmp_op
            | Rule::v_duration
            | Rule::v_rate
            | Rule::v_ratio
            | Rule::v_count
            | Rule::v_factor
            | Rule::v_size
            | Rule::v_sizerate
            | Rule::v_any
    ) {
        return p.as_span().end();
    }
    match p.clone().into_inner().next_back() {
        Some(last) => trimmed_end_walk(&last),
        None => p.as_span().end(),
    }
}

fn unexpected(p: &P, r: Rule) -> ParseError {
    ParseError::internal(span(p), &format!("unexpected {r:?}"))
}

/// Keywords and punctuation: present in the pair tree for error messages, skipped here.
fn is_token(r: Rule) -> bool {
    matches!(
        r,
        Rule::open
            | Rule::end_scenario
            | Rule::end_service
            | Rule::end_endpoint
            | Rule::end_block
            | Rule::end_policies
            | Rule::end_workload
            | Rule::end_fault
            | Rule::end_expect
            | Rule::lparen
            | Rule::rparen
            | Rule::comma
            | Rule::eq
            | Rule::arrow
            | Rule::fat_arrow
            | Rule::dotdot
            | Rule::bar
            | Rule::plus
            | Rule::kw_import
            | Rule::kw_param
            | Rule::kw_scenario
            | Rule::kw_service
            | Rule::kw_workload
            | Rule::kw_fault
            | Rule::kw_expect
            | Rule::kw_autoscale
            | Rule::kw_target
            | Rule::kw_delay
            | Rule::kw_interval
            | Rule::kw_latency
            | Rule::kw_endpoint
            | Rule::kw_call
            | Rule::kw_parallel
            | Rule::kw_choice
            | Rule::kw_retry
            | Rule::kw_backoff
            | Rule::kw_jitter
            | Rule::kw_circuit_breaker
            | Rule::kw_over
            | Rule::kw_min
            | Rule::kw_open
            | Rule::kw_rate
            | Rule::kw_spike
            | Rule::kw_users
            | Rule::kw_think
            | Rule::kw_at
            | Rule::kw_for
            | Rule::kw_every
            | Rule::kw_from
            | Rule::kw_until
            | Rule::kw_errors
            | Rule::kw_kill
            | Rule::kw_of
            | Rule::kw_random
            | Rule::kw_partition
            | Rule::kw_cpu
            | Rule::kw_loss
            | Rule::kw_memory
            | Rule::kw_limit
            | Rule::kw_on
            | Rule::kw_abort
            | Rule::kw_when
            | Rule::kw_overall
            | Rule::kw_during
            | Rule::kw_before
            | Rule::kw_after
            | Rule::kw_between
            | Rule::kw_and
            | Rule::kw_timeout
            | Rule::kw_health_check
            | Rule::kw_unhealthy
            | Rule::kw_healthy
            | Rule::kw_eject
            | Rule::kw_max
            | Rule::kw_up
            | Rule::kw_above
            | Rule::kw_down
            | Rule::kw_below
            | Rule::kw_send
            | Rule::kw_explore
            | Rule::kw_to
            | Rule::end_explore
    )
}

/// The meaningful children of a pair, keywords and punctuation skipped.
struct Kids<'i> {
    it: Pairs<'i, Rule>,
    /// The next meaningful child, once `opt` has looked at it.
    peeked: Option<P<'i>>,
    /// The parent's extent, only for the span of an internal error (so not trimmed).
    parent: Span,
}

impl<'i> Kids<'i> {
    fn of(p: P<'i>) -> Kids<'i> {
        let sp = p.as_span();
        Kids {
            parent: Span::new(sp.start(), sp.end()),
            it: p.into_inner(),
            peeked: None,
        }
    }

    fn next(&mut self) -> Option<P<'i>> {
        if let Some(p) = self.peeked.take() {
            return Some(p);
        }
        loop {
            let p = self.it.next()?;
            if !is_token(p.as_rule()) {
                return Some(p);
            }
        }
    }

    /// The next child, which the grammar guarantees.
    fn req(&mut self, what: &str) -> Res<P<'i>> {
        let parent = self.parent;
        self.next()
            .ok_or_else(|| ParseError::internal(parent, &format!("missing {what}")))
    }

    /// The next child if it is `rule`.
    fn opt(&mut self, rule: Rule) -> Option<P<'i>> {
        if self.peeked.is_none() {
            self.peeked = self.next();
        }
        match &self.peeked {
            Some(p) if p.as_rule() == rule => self.peeked.take(),
            _ => None,
        }
    }
}

/// The single meaningful child of a wrapper rule (`item`, `step`, `v_duration`, ...).
fn only(p: P) -> Res<P> {
    Kids::of(p).req("child")
}

fn ident(p: P) -> Res<Ident> {
    if !matches!(p.as_rule(), Rule::ident | Rule::name) {
        return Err(unexpected(&p, p.as_rule()));
    }
    Ok(Ident {
        name: p.as_str().to_string(),
        span: span(&p),
    })
}

fn string(p: P) -> Res<StrLit> {
    if p.as_rule() != Rule::string {
        return Err(unexpected(&p, p.as_rule()));
    }
    let raw = p.as_str();
    let body = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| ParseError::internal(span(&p), "string without quotes"))?;
    let mut value = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            // The grammar only admits `\"` and `\\`.
            if let Some(e) = chars.next() {
                value.push(e);
            }
        } else {
            value.push(c);
        }
    }
    Ok(StrLit {
        value,
        span: span(&p),
    })
}

/// A `v_*` pair to a [`Value`] with base units.
fn value(p: P) -> Res<Value> {
    if !matches!(
        p.as_rule(),
        Rule::v_duration
            | Rule::v_rate
            | Rule::v_ratio
            | Rule::v_count
            | Rule::v_factor
            | Rule::v_size
            | Rule::v_sizerate
            | Rule::v_any
    ) {
        return Err(unexpected(&p, p.as_rule()));
    }
    let text = p.as_str();
    let kind = units::classify(text)
        .ok_or_else(|| diagnose::bad_value(p.get_input(), span(&p), p.as_rule()))?;
    Ok(Value {
        kind,
        text: text.to_string(),
        span: span(&p),
    })
}

fn dist(p: P) -> Res<Dist> {
    let inner = only(p)?;
    match inner.as_rule() {
        Rule::dist_call => {
            let sp = span(&inner);
            let mut k = Kids::of(inner);
            let name = ident(k.req("distribution name")?)?;
            let mut args = Vec::new();
            while let Some(a) = k.next() {
                let asp = span(&a);
                let mut ak = Kids::of(a);
                let name = match ak.opt(Rule::arg_name) {
                    Some(n) => Some(ident(only(n)?)?),
                    None => None,
                };
                let value = value(ak.req("argument value")?)?;
                args.push(Arg {
                    name,
                    value,
                    span: asp,
                });
            }
            Ok(Dist::Call(DistCall {
                name,
                args,
                span: sp,
            }))
        }
        _ => Ok(Dist::Constant(value(inner)?)),
    }
}

/// The value inside an optional `kw value` wrapper such as `autoscale_delay`.
fn opt_value(k: &mut Kids, rule: Rule) -> Res<Option<Value>> {
    match k.opt(rule) {
        Some(p) => Ok(Some(value(only(p)?)?)),
        None => Ok(None),
    }
}

fn lower_item(p: P) -> Res<Item> {
    let p = only(p)?;
    let sp = span(&p);
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::import => Item::Import(Import {
            path: string(k.req("path")?)?,
            span: sp,
        }),
        Rule::param => Item::Param(Param {
            name: ident(k.req("name")?)?,
            value: value(k.req("value")?)?,
            span: sp,
        }),
        Rule::scenario => {
            let name = string(k.req("title")?)?;
            let mut settings = Vec::new();
            while let Some(s) = k.next() {
                settings.push(spanned(s, scenario_setting)?);
            }
            Item::Scenario(Scenario {
                name,
                settings,
                span: sp,
            })
        }
        Rule::service => {
            let name = ident(k.req("name")?)?;
            let mut settings = Vec::new();
            while let Some(s) = k.next() {
                settings.push(spanned(s, service_setting)?);
            }
            Item::Service(Service {
                name,
                settings,
                span: sp,
            })
        }
        Rule::workload => {
            let name = ident(k.req("name")?)?;
            let mut settings = Vec::new();
            while let Some(s) = k.next() {
                settings.push(spanned(s, workload_setting)?);
            }
            Item::Workload(Workload {
                name,
                settings,
                span: sp,
            })
        }
        Rule::fault => {
            let name = ident(k.req("name")?)?;
            let schedule = schedule(k.req("schedule")?)?;
            let mut actions = Vec::new();
            while let Some(a) = k.next() {
                actions.push(spanned(a, action)?);
            }
            Item::Fault(Fault {
                name,
                schedule,
                actions,
                span: sp,
            })
        }
        Rule::expect => {
            let mut statements = Vec::new();
            while let Some(s) = k.next() {
                statements.push(spanned(s, expect_stmt)?);
            }
            Item::Expect(Expect {
                statements,
                span: sp,
            })
        }
        Rule::explore => {
            let mut lines = Vec::new();
            while let Some(l) = k.next() {
                lines.push(spanned(l, explore_line)?);
            }
            Item::Explore(Explore { lines, span: sp })
        }
        r => return Err(ParseError::internal(sp, &format!("unexpected item {r:?}"))),
    })
}

/// Lowers a wrapper pair (`service_setting`, `step`, ...) with `f` on its only child, keeping
/// the wrapper's span.
fn spanned<'i, T>(p: P<'i>, f: impl Fn(P<'i>) -> Res<T>) -> Res<Spanned<T>> {
    let sp = span(&p);
    Ok(Spanned {
        node: f(only(p)?)?,
        span: sp,
    })
}

fn scenario_setting(p: P) -> Res<ScenarioSetting> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    let v = value(k.req("value")?)?;
    Ok(match rule {
        Rule::sc_duration => ScenarioSetting::Duration(v),
        Rule::sc_warmup => ScenarioSetting::Warmup(v),
        Rule::sc_seed => ScenarioSetting::Seed(v),
        Rule::sc_window => ScenarioSetting::Window(v),
        Rule::sc_hop => ScenarioSetting::Hop(v),
        r => return Err(ParseError::internal(k.parent, &format!("unexpected {r:?}"))),
    })
}

fn service_setting(p: P) -> Res<ServiceSetting> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::replicas => ServiceSetting::Replicas(value(k.req("count")?)?),
        Rule::autoscale => {
            let min = value(k.req("min")?)?;
            let max = value(k.req("max")?)?;
            let rule = k.req("autoscale rule")?;
            let rule = if rule.as_rule() == Rule::autoscale_marks {
                let mut mk = Kids::of(rule);
                AutoscaleRule::Watermarks {
                    up: value(mk.req("up")?)?,
                    down: value(mk.req("down")?)?,
                }
            } else {
                AutoscaleRule::Target(value(only(rule)?)?)
            };
            ServiceSetting::Autoscale {
                min,
                max,
                rule,
                delay: opt_value(&mut k, Rule::autoscale_delay)?,
                interval: opt_value(&mut k, Rule::autoscale_interval)?,
            }
        }
        Rule::workers => ServiceSetting::Workers(value(k.req("count")?)?),
        Rule::queue => ServiceSetting::Queue {
            size: value(k.req("count")?)?,
            discipline: match k.next() {
                Some(d) => Some(ident(d)?),
                None => None,
            },
        },
        Rule::health_check => ServiceSetting::HealthCheck {
            every: value(k.req("period")?)?,
            timeout: opt_value(&mut k, Rule::hc_timeout)?,
            unhealthy: opt_value(&mut k, Rule::hc_unhealthy)?,
            healthy: opt_value(&mut k, Rule::hc_healthy)?,
        },
        Rule::eject => ServiceSetting::Eject {
            after: value(k.req("count")?)?,
            duration: value(k.req("duration")?)?,
            max: opt_value(&mut k, Rule::eject_max)?,
        },
        Rule::rate_limit => ServiceSetting::RateLimit(value(k.req("rate")?)?),
        Rule::restart => ServiceSetting::Restart(value(k.req("duration")?)?),
        Rule::balance => ServiceSetting::Balance(ident(k.req("strategy")?)?),
        Rule::latency => ServiceSetting::Latency(dist(k.req("distribution")?)?),
        Rule::endpoint => {
            let name = string(k.req("endpoint name")?)?;
            let steps = steps(&mut k)?;
            ServiceSetting::Endpoint(Endpoint {
                name,
                steps,
                span: k.parent,
            })
        }
        r => {
            return Err(ParseError::internal(k.parent, &format!("unexpected {r:?}")));
        }
    })
}

/// The remaining `step` children.
fn steps(k: &mut Kids) -> Res<Vec<Spanned<Step>>> {
    let mut out = Vec::new();
    while let Some(s) = k.next() {
        out.push(spanned(s, step)?);
    }
    Ok(out)
}

fn step(p: P) -> Res<Step> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::work => Step::Work(dist(k.req("distribution")?)?),
        Rule::call | Rule::send => {
            let service = ident(k.req("service")?)?;
            let endpoint = string(k.req("endpoint")?)?;
            let mut policies = Vec::new();
            let block = match k.opt(Rule::policy_block) {
                Some(b) => {
                    let mut bk = Kids::of(b);
                    while let Some(pol) = bk.next() {
                        policies.push(spanned(pol, policy)?);
                    }
                    true
                }
                None => false,
            };
            while let Some(pol) = k.next() {
                policies.push(spanned(pol, policy)?);
            }
            let c = CallStep {
                service,
                endpoint,
                policies,
                block,
            };
            if rule == Rule::send {
                Step::Send(c)
            } else {
                Step::Call(c)
            }
        }
        Rule::parallel => Step::Parallel(steps(&mut k)?),
        Rule::choice => {
            let mut branches = Vec::new();
            while let Some(b) = k.next() {
                let bsp = span(&b);
                let mut bk = Kids::of(b);
                let weight = value(bk.req("weight")?)?;
                let body = bk.req("branch body")?;
                let (steps, braced) = if body.as_rule() == Rule::branch_block {
                    (steps(&mut Kids::of(body))?, true)
                } else {
                    (vec![spanned(body, step)?], false)
                };
                branches.push(Branch {
                    weight,
                    steps,
                    braced,
                    span: bsp,
                });
            }
            Step::Choice(branches)
        }
        Rule::fail => Step::Fail {
            ratio: value(k.req("ratio")?)?,
            status: opt_value(&mut k, Rule::status)?,
        },
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected step {r:?}"),
            ));
        }
    })
}

fn policy(p: P) -> Res<Policy> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::timeout => Policy::Timeout(value(k.req("duration")?)?),
        Rule::retry => Policy::Retry {
            count: value(k.req("count")?)?,
            backoff: match k.opt(Rule::retry_backoff) {
                Some(b) => Some(dist(only(b)?)?),
                None => None,
            },
            jitter: match k.opt(Rule::retry_jitter) {
                Some(j) => Some(ident(only(j)?)?),
                None => None,
            },
        },
        Rule::circuit_breaker => Policy::CircuitBreaker {
            ratio: value(k.req("ratio")?)?,
            over: value(k.req("over")?)?,
            min: value(k.req("min")?)?,
            open: value(k.req("open")?)?,
        },
        Rule::on_error => Policy::OnError(ident(k.req("behaviour")?)?),
        Rule::priority => Policy::Priority(value(k.req("priority")?)?),
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected policy {r:?}"),
            ));
        }
    })
}

fn workload_setting(p: P) -> Res<WorkloadSetting> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::wl_target => WorkloadSetting::Target {
            service: ident(k.req("service")?)?,
            endpoint: string(k.req("endpoint")?)?,
        },
        Rule::wl_rate => {
            let mut segments = Vec::new();
            while let Some(s) = k.next() {
                let ssp = span(&s);
                let mut sk = Kids::of(s);
                let from = value(sk.req("rate")?)?;
                let to = opt_value(&mut sk, Rule::segment_to)?;
                let length = if let Some(v) = opt_value(&mut sk, Rule::segment_over)? {
                    Some(SegmentLength::Over(v))
                } else {
                    opt_value(&mut sk, Rule::segment_for)?.map(SegmentLength::For)
                };
                segments.push(RateSegment {
                    from,
                    to,
                    length,
                    span: ssp,
                });
            }
            WorkloadSetting::Rate(segments)
        }
        Rule::spike => WorkloadSetting::Spike {
            rate: value(k.req("rate")?)?,
            at: value(k.req("at")?)?,
            duration: value(k.req("for")?)?,
        },
        Rule::arrivals => WorkloadSetting::Arrivals(ident(k.req("process")?)?),
        Rule::wl_timeout => WorkloadSetting::Timeout(value(k.req("duration")?)?),
        Rule::priority => WorkloadSetting::Priority(value(k.req("priority")?)?),
        Rule::users => {
            let from = value(k.req("users")?)?;
            let (to, over) = match k.opt(Rule::users_ramp) {
                Some(r) => {
                    let mut rk = Kids::of(r);
                    (Some(value(rk.req("to")?)?), Some(value(rk.req("over")?)?))
                }
                None => (None, None),
            };
            let think = dist(k.req("think")?)?;
            WorkloadSetting::Users {
                from,
                to,
                over,
                think,
            }
        }
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected setting {r:?}"),
            ));
        }
    })
}

fn schedule(p: P) -> Res<Schedule> {
    let p = only(p)?;
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::sched_at => Schedule::At {
            at: value(k.req("time")?)?,
            duration: opt_value(&mut k, Rule::sched_for)?,
        },
        Rule::sched_every => Schedule::Every {
            every: value(k.req("period")?)?,
            from: opt_value(&mut k, Rule::sched_from)?,
            until: opt_value(&mut k, Rule::sched_until)?,
            duration: opt_value(&mut k, Rule::sched_for)?,
        },
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected schedule {r:?}"),
            ));
        }
    })
}

fn target_ref(p: P) -> Res<TargetRef> {
    let mut k = Kids::of(p);
    let replicas = match k.opt(Rule::target_subset) {
        Some(s) => Some(value(only(s)?)?),
        None => None,
    };
    let service = ident(k.req("service")?)?;
    let endpoint = match k.next() {
        Some(s) => Some(string(s)?),
        None => None,
    };
    let span = endpoint
        .as_ref()
        .map_or(service.span, |e| service.span.to(e.span));
    Ok(TargetRef {
        replicas,
        service,
        endpoint,
        span,
    })
}

fn names(p: P) -> Res<Vec<Ident>> {
    let mut k = Kids::of(p);
    let mut out = Vec::new();
    while let Some(n) = k.next() {
        out.push(ident(n)?);
    }
    Ok(out)
}

fn action(p: P) -> Res<Action> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::a_latency => Action::Latency {
            delay: dist(k.req("delay")?)?,
            target: target_ref(k.req("target")?)?,
        },
        Rule::a_errors => Action::Errors {
            ratio: value(k.req("ratio")?)?,
            status: opt_value(&mut k, Rule::status)?,
            target: target_ref(k.req("target")?)?,
        },
        Rule::a_kill => {
            let count = value(k.req("count")?)?;
            let t = k.req("kill target")?;
            let of = if t.as_rule() == Rule::kill_random {
                let rsp = span(&t);
                KillTarget::Random {
                    services: names(t)?,
                    span: rsp,
                }
            } else {
                KillTarget::Service(ident(t)?)
            };
            Action::Kill { count, of }
        }
        Rule::a_partition => Action::Partition {
            a: names(k.req("left side")?)?,
            b: names(k.req("right side")?)?,
        },
        Rule::a_cpu => Action::Cpu {
            factor: value(k.req("factor")?)?,
            target: target_ref(k.req("target")?)?,
        },
        Rule::a_loss => Action::Loss {
            ratio: value(k.req("ratio")?)?,
            target: target_ref(k.req("target")?)?,
        },
        Rule::a_memory => Action::Memory {
            rate: value(k.req("rate")?)?,
            target: target_ref(k.req("target")?)?,
            limit: value(k.req("limit")?)?,
        },
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected action {r:?}"),
            ));
        }
    })
}

fn explore_line(p: P) -> Res<ExploreLine> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::ex_max_faults => ExploreLine::MaxFaults(value(k.req("count")?)?),
        Rule::ex_at => ExploreLine::At(bounds(k.req("range")?)?),
        Rule::ex_for => ExploreLine::For(bounds(k.req("range")?)?),
        Rule::ex_partition => {
            let first = k.req("partition sides")?;
            let sides = if first.as_rule() == Rule::star {
                None
            } else {
                Some((names(first)?, names(k.req("right side")?)?))
            };
            ExploreLine::Partition { sides }
        }
        Rule::ex_fault => {
            let kind = ident(k.req("fault kind")?)?;
            let intensity = match k.opt(Rule::ex_range) {
                Some(r) => Some(bounds(r)?),
                None => None,
            };
            let t = only(k.req("targets")?)?;
            let targets = if t.as_rule() == Rule::star {
                ExploreTargets::All { span: span(&t) }
            } else {
                ExploreTargets::Services(names(t)?)
            };
            let limit = opt_value(&mut k, Rule::ex_limit)?;
            ExploreLine::Fault {
                kind,
                intensity,
                targets,
                limit,
            }
        }
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected explore line {r:?}"),
            ));
        }
    })
}

/// `up to HIGH`, `LOW..HIGH` or `VALUE`.
fn bounds(p: P) -> Res<Bounds> {
    let mut k = Kids::of(p);
    let first = k.req("range")?;
    if first.as_rule() == Rule::ex_up_to {
        return Ok(Bounds::UpTo(value(only(first)?)?));
    }
    let low = value(first)?;
    Ok(match opt_value(&mut k, Rule::ex_high)? {
        Some(high) => Bounds::Between(low, high),
        None => Bounds::Exactly(low),
    })
}

fn condition(p: P) -> Res<Condition> {
    let sp = span(&p);
    let mut k = Kids::of(p);
    let metric = ident(k.req("metric")?)?;
    let subj = k.req("subject")?;
    let ssp = span(&subj);
    let mut sk = Kids::of(subj);
    let name = ident(sk.req("subject name")?)?;
    let endpoint = match sk.next() {
        Some(s) => Some(string(s)?),
        None => None,
    };
    let op_pair = k.req("comparison")?;
    let op = match op_pair.as_str() {
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        other => {
            return Err(ParseError::internal(
                span(&op_pair),
                &format!("operator `{other}`"),
            ));
        }
    };
    Ok(Condition {
        metric,
        subject: SubjectRef {
            name,
            endpoint,
            span: ssp,
        },
        op: Spanned {
            node: op,
            span: span(&op_pair),
        },
        threshold: value(k.req("threshold")?)?,
        span: sp,
    })
}

fn expect_stmt(p: P) -> Res<ExpectStmt> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::abort => ExpectStmt::Abort {
            condition: condition(k.req("condition")?)?,
            duration: value(k.req("duration")?)?,
        },
        Rule::check => {
            let condition = condition(k.req("condition")?)?;
            let window = match k.next() {
                Some(w) => Some(spanned(w, window)?),
                None => None,
            };
            ExpectStmt::Check { condition, window }
        }
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected statement {r:?}"),
            ));
        }
    })
}

fn window(p: P) -> Res<WindowSpec> {
    let rule = p.as_rule();
    let mut k = Kids::of(p);
    Ok(match rule {
        Rule::w_overall => WindowSpec::Overall,
        Rule::w_during => WindowSpec::During(ident(k.req("fault")?)?),
        Rule::w_before => WindowSpec::Before(ident(k.req("fault")?)?),
        Rule::w_after => WindowSpec::After {
            fault: ident(k.req("fault")?)?,
            plus: opt_value(&mut k, Rule::after_plus)?,
            duration: opt_value(&mut k, Rule::after_for)?,
        },
        Rule::w_between => WindowSpec::Between {
            from: value(k.req("from")?)?,
            to: value(k.req("to")?)?,
        },
        r => {
            return Err(ParseError::internal(
                k.parent,
                &format!("unexpected window {r:?}"),
            ));
        }
    })
}

#[cfg(test)]
mod split_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every `.chaos` file the repository holds (fixtures, scenarios, the spec examples in
    /// `scenarios/spec/`).
    fn corpus() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        let mut dirs = vec![
            root.join("grammar/tests/fixtures"),
            root.join("compiler/tests/fixtures"),
            root.join("scenarios"),
        ];
        while let Some(dir) = dirs.pop() {
            let entries =
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for path in entries.map(|e| e.unwrap().path()) {
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "chaos") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path.display().to_string(), text));
                }
            }
        }
        assert!(out.len() > 100, "fixtures not found: {}", out.len());
        out
    }

    #[test]
    fn split_parse_equals_whole_parse_on_every_file() {
        let mut split = 0;
        for (name, text) in corpus() {
            let whole = parse_split_from(&text, usize::MAX);
            assert_eq!(whole, parse_split_from(&text, 0), "{name}");
            let blanked = comments::split(&text).1;
            if let (Ok(whole), Some(at)) = (&whole, split_point(&blanked, 0)) {
                // Not the fallback: the two halves themselves give the whole file's items.
                let halves = parse_halves(&blanked, at).unwrap();
                assert_eq!(whole.items, halves, "{name}");
                split += 1;
            }
        }
        assert!(split > 50, "only {split} files had a split point");
    }

    #[test]
    fn an_error_in_either_half_reads_as_in_the_whole_file() {
        let item = |i: usize| format!("service s{i} {{\n  replicas 2\n}}\n");
        let good: String = (0..40).map(item).collect();
        for bad in [
            format!("{good}service broken {{ replica 2 }}\n{good}"),
            format!("{good}{good}service broken {{ workers }}\n"),
            format!("service broken {{ queue -1 }}\n{good}{good}"),
        ] {
            let whole = parse_split_from(&bad, usize::MAX).unwrap_err();
            let halves = parse_split_from(&bad, 0).unwrap_err();
            assert_eq!(whole, halves);
        }
    }

    #[test]
    fn split_points_sit_after_a_top_level_block() {
        let text = "service a {\n  endpoint \"x }\" { }\n}\nservice b { }\n";
        let at = split_point(text, 0).unwrap();
        assert_eq!(&text[at - 1..=at], "}\n");
        assert!(at > text.len() / 2);
        assert_eq!(&text[..at], "service a {\n  endpoint \"x }\" { }\n}");
        assert_eq!(
            split_point("service a { }", 0),
            None,
            "no byte after the brace"
        );
        assert_eq!(
            split_point("service a { }\x01 ", 0),
            None,
            "marker in the text"
        );
    }
}
