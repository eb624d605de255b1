# h109_statistics_decimal.py (hostile sandbox test)
# tries: int(statistics.Decimal('1e5000000')): a 5-million-digit integer in C
# expect: runtime AttributeError: Decimal
import statistics


async def execute_query(image_filename):
    return int(statistics.Decimal("1e5000000")) % 7
