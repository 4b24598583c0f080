"""Model packages and the tools that make them: training hand-over, int8 quantization, .tflite
writing, scoring and evaluation on recordings exactly as the node computes."""
