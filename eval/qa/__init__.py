"""Question-answering evaluation of the offline planner over a fixed store."""
