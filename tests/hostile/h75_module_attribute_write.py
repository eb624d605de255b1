# h75_module_attribute_write.py (hostile sandbox test)
# tries: overwrite math.pi for every other task
# expect: runtime SandboxViolation: setting attribute 'pi' of module math
import math


def execute_command(image):
    math.pi = 3
