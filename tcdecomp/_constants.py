"""Numerical constants shared across modules."""

import math

LOG_2PI = math.log(2.0 * math.pi)
#: log(2 pi e): the entropy of a standard normal is LOG_2PI_E / 2
LOG_2PI_E = math.log(2.0 * math.pi * math.e)
