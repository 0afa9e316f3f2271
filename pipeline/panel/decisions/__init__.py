"""After the meeting (R13, R14): the decisions workbook and its import, sheets, reviews."""
