"""`nextbest report`: an experiment's arms from the interaction history, against control."""
