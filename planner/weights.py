"""Objective weights, all in one place. Small integers on purpose: CP-SAT slows down a lot with large ones.

The planner maximises

    COVERED_PAIR  · (learner, session) pairs inside the learner's working hours
  - EXTRA_SECTION · sections beyond the first
  - RHYTHM_BREAK  · sessions not at the same home-zone weekly time as the matching session a week earlier
  - ASYNC_PEAK    · the busiest program week's async minutes, in steps of ASYNC_PEAK_STEP minutes
  - MOVED_SESSION · sessions of the previous plan (re-plans) that move or change facilitator
  - FACILITATOR_CHANGE · a section's consecutive sessions led by different facilitators
  - FACILITATOR_SHARE  · sections a facilitator leads beyond a fair share (ceil(sections / facilitators))

Coverage comes first because one covered pair outweighs any single other term: splitting into an extra
section pays only when it covers at least one more pair; a rhythm break or a move costs a fraction of a pair.
Facilitator continuity and fair share are as light as a rhythm break: a cohort's second facilitator gets
sessions when that costs no covered pair.
"""

COVERED_PAIR = 10
EXTRA_SECTION = 5
RHYTHM_BREAK = 1
ASYNC_PEAK = 1
ASYNC_PEAK_STEP = 15  # minutes
MOVED_SESSION = 2
FACILITATOR_CHANGE = 1
FACILITATOR_SHARE = 1
