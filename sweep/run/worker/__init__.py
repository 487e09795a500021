"""What runs inside a trial: the Ray Tune trainable, one unit's training and scoring,
`sweep train-one`, the classifier it scores with."""
