" Checks the Vim syntax on real scenarios: every keyword, name, quantity and param in each file
" given as an argument must get the highlight group the language gives it.
" Run by test/run.sh; writes failures to $CHAOS_VIM_OUT and quits with an error when there are any.

let s:groups = {}
for [s:group, s:words] in [
      \ ['chaosImport', ['import']],
      \ ['chaosItem', ['scenario', 'endpoint', 'expect', 'explore', 'service', 'workload', 'fault', 'param']],
      \ ['chaosSetting', ['duration', 'warmup', 'seed', 'window', 'replicas', 'autoscale', 'delay',
      \   'interval', 'workers', 'queue', 'rate_limit', 'restart', 'balance', 'latency', 'timeout', 'retry',
      \   'backoff', 'jitter', 'circuit_breaker', 'over', 'min', 'open', 'on_error', 'rate', 'spike',
      \   'arrivals', 'users', 'think', 'limit', 'status', 'target', 'health_check', 'unhealthy',
      \   'healthy', 'eject', 'max', 'up', 'above', 'down', 'below', 'priority', 'max_faults', 'hop']],
      \ ['chaosStep', ['work', 'parallel', 'choice', 'fail', 'call', 'send']],
      \ ['chaosAction', ['errors', 'kill', 'partition', 'cpu', 'loss', 'memory']],
      \ ['chaosKeyword', ['at', 'for', 'every', 'from', 'until', 'abort', 'when', 'on', 'of', 'to']],
      \ ['chaosWindow', ['overall', 'between', 'and', 'during', 'after', 'before']],
      \ ['chaosConstant', ['round_robin', 'least_request', 'poisson', 'none', 'full', 'equal', 'continue',
      \   'random', 'uniform', 'fifo', 'lifo']],
      \ ]
  for s:w in s:words
    let s:groups[s:w] = s:group
  endfor
endfor
let s:metrics = ['p50', 'p90', 'p95', 'p99', 'p999', 'mean', 'max', 'error_rate', 'availability',
      \ 'recovery', 'throughput', 'max_replicas']
let s:distributions = ['exponential', 'normal', 'lognormal', 'uniform', 'pareto', 'random']
let s:arguments = ['mean', 'stddev', 'median', 'p99', 'scale', 'shape', 'max']
" The word before a name says what the name is.
let s:definers = {'service': 'chaosTypeName', 'workload': 'chaosTypeName', 'fault': 'chaosFaultName',
      \ 'param': 'chaosParamName', 'call': 'chaosServiceRef', 'send': 'chaosServiceRef',
      \ 'target': 'chaosServiceRef',
      \ 'on': 'chaosServiceRef', 'of': 'chaosServiceRef', 'during': 'chaosFaultRef',
      \ 'after': 'chaosFaultRef', 'before': 'chaosFaultRef'}

let s:token = '\v\$?[a-z_][a-z0-9_]*%(-[a-z0-9_]+)*|%([0-9]+%(\.[0-9]+)?[A-Za-zµ%]*)+%(/%(min|[smh]))?'

function! s:Expected(tok, prev, rest) abort
  let l:call = a:rest =~# '^\s*('
  let l:assign = a:rest =~# '^\s*=[=>]\@!'
  if a:tok =~# '^\$'
    return 'chaosParamRef'
  elseif a:tok =~# '^\d'
    if a:tok =~# '\v^[0-9.]+(KiB|MiB|GiB|TiB|KB|MB|GB|TB|B)(/(min|[smh]))?$'
      return 'chaosSize'
    elseif a:tok =~# '\v/(min|[smh])$'
      return 'chaosRate'
    elseif a:tok =~# '%$'
      return 'chaosRatio'
    elseif a:tok =~# 'x$'
      return 'chaosMultiplier'
    elseif a:tok =~# '\v^([0-9.]+(us|µs|ms|s|min|m|h))+$'
      return 'chaosDuration'
    endif
    return 'chaosNumber'
  elseif a:tok =~# '\v^x[0-9]'
    return 'chaosMultiplier'
  elseif l:call && index(s:metrics, a:tok) >= 0
    return 'chaosMetric'
  elseif l:call && index(s:distributions, a:tok) >= 0
    return 'chaosDistribution'
  elseif l:assign && index(s:arguments, a:tok) >= 0
    return 'chaosArgument'
  elseif has_key(s:definers, a:prev) && !l:call
    " A name may be spelt like a keyword (`workload users`): the word before decides.
    return s:definers[a:prev]
  elseif has_key(s:groups, a:tok)
    return s:groups[a:tok]
  endif
  return ''
endfunction

function! s:Group(lnum, col) abort
  return synIDattr(synID(a:lnum, a:col, 1), 'name')
endfunction

let s:failures = []
let s:checked = 0
for s:file in argv()
  execute 'silent edit ' . fnameescape(s:file)
  if &filetype !=# 'chaos'
    call add(s:failures, s:file . ': filetype is "' . &filetype . '", not chaos')
    continue
  endif
  for s:lnum in range(1, line('$'))
    let s:line = getline(s:lnum)
    let s:prev = ''
    let s:start = 0
    while 1
      let [s:tok, s:from, s:to] = matchstrpos(s:line, s:token, s:start)
      if s:from < 0
        break
      endif
      let s:start = s:to
      let s:first = s:Group(s:lnum, s:from + 1)
      if s:first ==# 'chaosComment' || s:first ==# 'chaosString' || s:first ==# 'chaosTodo' || s:first ==# 'chaosEscape'
        continue
      endif
      let s:want = s:Expected(s:tok, s:prev, s:line[s:to :])
      let s:last = s:Group(s:lnum, s:to)
      let s:checked += 1
      if s:first !=# s:want || s:last !=# s:want
        call add(s:failures, printf('%s:%d:%d: `%s` is %s..%s, expected %s', s:file, s:lnum, s:from + 1,
              \ s:tok, string(s:first), string(s:last), string(s:want)))
      endif
      let s:prev = s:tok
    endwhile
  endfor
endfor

call add(s:failures, printf('checked %d tokens in %d files', s:checked, argc()))
call writefile(s:failures, $CHAOS_VIM_OUT)
if len(s:failures) > 1 || s:checked == 0
  cquit
endif
qall!
