"""Pure reward functions: text in, score out. No I/O, no model, no environment.

Environments compose these into their ``score``; they are also usable on their own
(e.g. as TRL reward functions).
"""

from rewards.answer_format import ANSWER_FORMATS, extract_answer, find_braced, format_instruction, split_think
from rewards.composite import weighted_sum
from rewards.math_equivalence import is_plain_number, math_equal, normalize

__all__ = [
    "ANSWER_FORMATS",
    "extract_answer",
    "find_braced",
    "format_instruction",
    "is_plain_number",
    "math_equal",
    "normalize",
    "split_think",
    "weighted_sum",
]
