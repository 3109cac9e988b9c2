//! `chaos agent`: one replica of one service from the plan, over real HTTP, with a fault control API.
