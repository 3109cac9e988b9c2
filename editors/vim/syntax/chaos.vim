" Vim syntax file
" Language:   chaos (declarative chaos-engineering scenarios, *.chaos)
" Keep the keyword lists in step with the pest grammar: editors/lsp/tests/keywords.rs checks it.

if exists('b:current_syntax')
  finish
endif

" Identifiers may hold `-` (`payments-v2`), so `-` is a word character for keywords.
syntax iskeyword @,48-57,_,-
syntax case match

syntax match chaosComment "#.*$" contains=chaosTodo,@Spell
syntax keyword chaosTodo TODO FIXME XXX NOTE contained

syntax match chaosEscape "\\[\"\\]" contained
syntax region chaosString start=+"+ skip=+\\\\\|\\"+ end=+"+ oneline contains=chaosEscape

" Items; the name after `service`/`workload`/`fault`/`param` is a definition.
syntax keyword chaosImport import
syntax keyword chaosItem scenario endpoint expect explore
syntax keyword chaosItem service workload nextgroup=chaosTypeName skipwhite
syntax keyword chaosItem fault nextgroup=chaosFaultName skipwhite
syntax keyword chaosItem param nextgroup=chaosParamName skipwhite
syntax match chaosTypeName "[a-z_][a-z0-9_-]*" contained
syntax match chaosFaultName "[a-z_][a-z0-9_-]*" contained
syntax match chaosParamName "[a-z_][a-z0-9_-]*" contained

syntax keyword chaosSetting duration warmup seed window hop
syntax keyword chaosSetting replicas autoscale delay interval workers queue rate_limit restart balance latency
syntax keyword chaosSetting timeout retry backoff jitter circuit_breaker over min open on_error
syntax keyword chaosSetting rate spike arrivals users think limit status
syntax keyword chaosSetting health_check unhealthy healthy eject up above down below priority
syntax keyword chaosSetting max_faults
" `max` (of `eject`) is also a metric and an argument name: a match, so that the metric and
" argument matches below, defined later, win before `(` and `=`.
syntax match chaosSetting "\<max\>"
" `target SERVICE`, `call SERVICE`, `on SERVICE`, `of SERVICE` name a service.
syntax keyword chaosSetting target nextgroup=chaosServiceRef skipwhite
syntax keyword chaosStep work parallel choice fail
syntax keyword chaosStep call send nextgroup=chaosServiceRef skipwhite
syntax keyword chaosAction errors kill partition cpu loss memory
syntax keyword chaosKeyword at for every from until abort when to
syntax keyword chaosKeyword on of nextgroup=chaosServiceRef skipwhite
syntax keyword chaosWindow overall between and
syntax keyword chaosWindow during after before nextgroup=chaosFaultRef skipwhite
syntax match chaosServiceRef "\<[a-z_][a-z0-9_-]*\>\%(\s*(\)\@!" contained
syntax match chaosFaultRef "[a-z_][a-z0-9_-]*" contained
syntax keyword chaosConstant round_robin least_request poisson none full equal continue fifo lifo
" Keywords beat matches in Vim, so the names that are also functions are matches.
syntax match chaosConstant "\<\%(random\|uniform\)\>\%(\s*(\)\@!"

" Function-like names are only functions before `(`: `random` and `uniform` are also values,
" `mean`, `max` and `p99` also argument names.
syntax match chaosMetric "\<\%(p50\|p90\|p95\|p99\|p999\|mean\|max\|error_rate\|availability\|recovery\|throughput\|max_replicas\)\ze\s*("
syntax match chaosDistribution "\<\%(exponential\|normal\|lognormal\|uniform\|pareto\|random\)\ze\s*("
syntax match chaosArgument "\<\%(mean\|stddev\|median\|p99\|scale\|shape\|max\)\ze\s*=[=>]\@!"

syntax match chaosParamRef "\$[a-z_][a-z0-9_-]*"

" Quantities: the number, then its unit; the longest forms first.
syntax match chaosNumber "\<\d\+\%(\.\d\+\)\=\>"
syntax match chaosDuration "\<\%(\d\+\%(\.\d\+\)\=\%(us\|µs\|ms\|s\|min\|m\|h\)\)\+\>"
syntax match chaosMultiplier "\<\d\+\%(\.\d\+\)\=x\>"
syntax match chaosMultiplier "\<x\d\+\%(\.\d\+\)\=\>"
syntax match chaosRatio "\<\d\+\%(\.\d\+\)\=%"
syntax match chaosRate "\<\d\+\%(\.\d\+\)\=/\%(min\|[smh]\)\>"
syntax match chaosSize "\<\d\+\%(\.\d\+\)\=\%(KiB\|MiB\|GiB\|TiB\|KB\|MB\|GB\|TB\|B\)\%(/\%(min\|[smh]\)\)\=\>"

syntax match chaosOperator "->\|=>\|<=\|>=\|==\|!=\|[<>|+=*]\|\.\."

highlight default link chaosComment Comment
highlight default link chaosTodo Todo
highlight default link chaosString String
highlight default link chaosEscape SpecialChar
highlight default link chaosImport Include
highlight default link chaosItem Structure
highlight default link chaosTypeName Type
highlight default link chaosFaultName Function
highlight default link chaosParamName Identifier
highlight default link chaosServiceRef Type
highlight default link chaosFaultRef Function
highlight default link chaosSetting Keyword
highlight default link chaosStep Statement
highlight default link chaosAction Statement
highlight default link chaosKeyword Keyword
highlight default link chaosWindow Conditional
highlight default link chaosConstant Constant
highlight default link chaosMetric Function
highlight default link chaosDistribution Function
highlight default link chaosArgument Identifier
highlight default link chaosParamRef PreProc
highlight default link chaosNumber Number
highlight default link chaosDuration Number
highlight default link chaosMultiplier Number
highlight default link chaosRatio Number
highlight default link chaosRate Number
highlight default link chaosSize Number
highlight default link chaosOperator Operator

let b:current_syntax = 'chaos'
