" .chaos files are chaos-engineering scenarios.
autocmd BufRead,BufNewFile *.chaos setfiletype chaos
