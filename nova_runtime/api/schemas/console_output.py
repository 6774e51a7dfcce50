"""The body of the os-getConsoleOutput server action.

``length``: how many lines from the end of the log; an integer or a string
of digits (upstream accepts both), -1 or null (or no length) for the whole
log. Floats, booleans and other strings are refused.
"""

GET_CONSOLE_OUTPUT = {
    "type": "object",
    "properties": {
        "os-getConsoleOutput": {
            "type": "object",
            "properties": {
                "length": {
                    "type": ["integer", "string", "null"],
                    "pattern": r"^-?[0-9]+$",
                    "minimum": -1,
                },
            },
            "additionalProperties": False,
        },
    },
    "required": ["os-getConsoleOutput"],
    "additionalProperties": False,
}
