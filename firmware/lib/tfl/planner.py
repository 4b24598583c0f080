"""Greedy arena planner: int8 activations whose lifetimes do not overlap share memory.

Like TFLM's GreedyMemoryPlanner: buffers are placed largest first, each at the lowest offset
that does not collide with an already placed buffer alive at the same time.
"""

_ALIGN = 4


def plan(sizes: "list[int]", first_use: "list[int]", last_use: "list[int]") -> "tuple[list[int], int]":
    """Offsets for buffers ``sizes[i]`` alive from step ``first_use[i]`` to ``last_use[i]``.

    Returns (offsets, arena size in bytes).
    """
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    placed: list[int] = []
    offsets = [0] * len(sizes)
    arena = 0
    for i in order:
        busy = sorted((offsets[j], offsets[j] + sizes[j]) for j in placed
                      if not (last_use[j] < first_use[i] or last_use[i] < first_use[j]))
        offset = 0
        for start, end in busy:
            if offset + sizes[i] <= start:
                break
            if end > offset:
                offset = (end + _ALIGN - 1) // _ALIGN * _ALIGN
        offsets[i] = offset
        placed.append(i)
        arena = max(arena, offset + sizes[i])
    return offsets, arena
