" Indentation for .chaos scenarios: one level per open `{`.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=ChaosIndent(v:lnum)
setlocal indentkeys=0},!^F,o,O

if exists('*ChaosIndent')
  finish
endif

" Braces inside strings and comments do not count.
function! s:Braces(line) abort
  let l:code = substitute(a:line, '"\%([^"\\]\|\\.\)*"', '""', 'g')
  let l:code = substitute(l:code, '#.*$', '', '')
  return count(l:code, '{') - count(l:code, '}')
endfunction

function! ChaosIndent(lnum) abort
  let l:prev = prevnonblank(a:lnum - 1)
  if l:prev == 0
    return 0
  endif
  let l:ind = indent(l:prev)
  let l:prevline = getline(l:prev)
  " An opening brace on the previous line indents; a line starting with `}` dedents.
  let l:opened = s:Braces(l:prevline) + (l:prevline =~# '^\s*}' ? 1 : 0)
  if l:opened > 0
    let l:ind += shiftwidth()
  endif
  if getline(a:lnum) =~# '^\s*}'
    let l:ind -= shiftwidth()
  endif
  return max([l:ind, 0])
endfunction
