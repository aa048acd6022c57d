"""Pure rules: answer grading, spaced-repetition scheduling and mastery. No I/O, no clock."""
