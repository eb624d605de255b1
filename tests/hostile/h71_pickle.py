# h71_pickle.py (hostile sandbox test)
# tries: pickle/marshal to run code on load
# expect: static SandboxViolation: import of 'pickle'
import pickle


async def execute_query(image_filename):
    return pickle.loads(b"")
