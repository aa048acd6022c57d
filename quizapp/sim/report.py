def format_result_table(result: dict) -> str:
    return ""
