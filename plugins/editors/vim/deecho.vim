" deecho.vim: run deecho on the current file from Vim (8.1+) or Neovim.
"
"   :DeechoProcess [flags]  remove echo; writes NAME.no_echo.wav beside the file
"                           (extra flags go to `deecho process`, e.g. --strength 0.7)
"   :DeechoTui              open the file in the deecho workspace in a terminal window
"
" Set g:deecho_command to the full path of deecho if it is not on PATH.

if exists('g:loaded_deecho')
  finish
endif
let g:loaded_deecho = 1

function! s:Command() abort
  return get(g:, 'deecho_command', 'deecho')
endfunction

function! s:CurrentFile() abort
  let l:file = expand('%:p')
  if empty(l:file)
    echohl ErrorMsg | echomsg 'deecho: this buffer has no file' | echohl None
  endif
  return l:file
endfunction

function! s:Process(extra) abort
  let l:file = s:CurrentFile()
  if empty(l:file)
    return
  endif
  let l:words = [s:Command(), 'process', l:file] + a:extra
  " stdout is the output path; errors arrive as one `deecho: ...` line
  let l:output = trim(system(join(map(copy(l:words), 'shellescape(v:val)'), ' ')))
  if v:shell_error
    echohl ErrorMsg
    echomsg 'deecho failed (exit ' . v:shell_error . '): ' . l:output
    echohl None
  else
    echomsg 'deecho wrote ' . l:output
  endif
endfunction

function! s:Tui() abort
  let l:file = s:CurrentFile()
  if empty(l:file)
    return
  endif
  let l:words = [s:Command(), 'tui', l:file]
  " a list, not a string: no shell, so no quoting of the path
  if has('nvim')
    tabnew
    call termopen(l:words)
    startinsert
  elseif has('terminal')
    tab call term_start(l:words, {'term_finish': 'close'})
  else
    echohl ErrorMsg | echomsg 'deecho: this Vim has no :terminal; run: deecho tui ' . l:file | echohl None
  endif
endfunction

command! -nargs=* DeechoProcess call s:Process([<f-args>])
command! -nargs=0 DeechoTui call s:Tui()
