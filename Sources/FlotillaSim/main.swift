print("simulator not yet built")
