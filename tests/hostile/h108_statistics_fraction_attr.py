# h108_statistics_fraction_attr.py (hostile sandbox test)
# tries: statistics.Fraction through the module object
# expect: runtime AttributeError: Fraction
import statistics


async def execute_query(image_filename):
    return str(statistics.Fraction("1e999999999"))
