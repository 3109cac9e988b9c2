; Highlights for `.chaos`. Capture names are the common ones Neovim, Helix and Zed all theme:
; keywords, types for services and workloads, labels for faults, builtin functions for
; metrics and distributions, numbers for quantities, variables for params.

(comment) @comment

(string) @string
(escape_sequence) @string.escape

(quantity) @number
(param_ref) @variable

[
  "import" "param" "scenario" "service" "workload" "fault" "expect" "explore"
] @keyword

[
  "duration" "warmup" "seed" "window" "hop"
  "replicas" "autoscale" "target" "up" "above" "down" "below" "delay" "interval"
  "workers" "queue" "health_check" "every" "timeout" "unhealthy" "healthy"
  "eject" "after" "errors" "for" "max" "rate_limit" "restart" "balance" "latency"
  "endpoint"
  "work" "call" "send" "parallel" "choice" "fail" "status"
  "retry" "backoff" "jitter" "circuit_breaker" "over" "min" "open" "on_error" "priority"
  "rate" "spike" "at" "arrivals" "users" "think"
  "from" "until" "kill" "of" "partition" "cpu" "loss" "memory" "limit" "on"
  "abort" "when" "during" "before" "between" "and"
  "max_faults" "to"
] @keyword

(overall) @keyword
(random "random" @function.builtin)

; Names where they are defined and where they are used.
(service name: (identifier) @type)
(workload name: (identifier) @type)
(call service: (identifier) @type)
(send service: (identifier) @type)
(target service: (identifier) @type)
(on service: (identifier) @type)
(kill service: (identifier) @type)
(random (identifier) @type)
(side (identifier) @type)
(explore_fault service: (identifier) @type)
(explore_fault kind: (identifier) @keyword)
(all) @constant.builtin
(subject name: (identifier) @type)

(fault name: (identifier) @label)
(during fault: (identifier) @label)
(before fault: (identifier) @label)
(after fault: (identifier) @label)

(param name: (identifier) @variable)

(condition metric: (identifier) @function.builtin)
(distribution name: (identifier) @function.builtin)
(argument name: (identifier) @property)

; The words a setting chooses from: `lifo`, `round_robin`, `poisson`, `full`, `continue`.
(queue discipline: (identifier) @constant.builtin)
(balance (identifier) @constant.builtin)
(arrivals (identifier) @constant.builtin)
(retry jitter: (identifier) @constant.builtin)
(on_error (identifier) @constant.builtin)

(endpoint name: (string) @string.special)

(operator) @operator
["->" "=>" "=" "+" "|" ".."] @operator

["{" "}" "(" ")"] @punctuation.bracket
"," @punctuation.delimiter
