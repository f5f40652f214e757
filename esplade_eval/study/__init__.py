"""Driving the whole flow: the demo, and (with training) the study grid."""
