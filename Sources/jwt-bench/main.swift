print("jwt-bench: not built yet")
