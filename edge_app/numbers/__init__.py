"""Reading a number from its strokes: candidate digits, one batched model call, best path.

The app knows more than the ink: the strokes, in time order, with pen lifts. A digit is (almost
always) a run of consecutive strokes, so the reader

1. cuts strokes into *units*: each stroke, and, for a stroke wide enough to hold two digits
   (a "12" with no pen lift), its pieces between turning points (where it stops going down
   and goes up: a 1's foot);
2. moves a *delayed* stroke (the bar of a 5 or a 7 added after the next digit) back next to
   the stroke it overlaps, so the digit it completes is again a run;
3. makes every run of up to ``MAX_UNITS`` units a candidate digit, renders it alone exactly as
   the app renders ink (the same calls as :func:`~mnist_edge.ink.strokes.render`, on a
   crop of the canvas), turns it into model input with the one preprocessing path
   (:func:`~mnist_edge.ink.preprocess.to_mnist`) and scores all candidates in one batch;
4. scores each candidate as a digit with a small network (one hidden layer, about a
   thousand weights, fitted data beside the models) on the
   model's probabilities and geometry (height and width against the writing's height, overlap
   and gap with the neighbouring units, cuts, vertical offset), fitted on fragments, pairs and
   true digits of numbers composed from training writers only (``mnist_edge.train.numbers``):
   a candidate that is not a digit loses even when the model is confident about it. A
   candidate that ends at a cut has a network of its own, fitted on numbers with joins;
5. takes the best split by dynamic programming over unit boundaries.

Candidate readings are cached by their strokes' content, so while a person writes, only the
candidates that contain the newest stroke are rendered and read again.

The steps live in ``units``, ``render``, ``score`` and ``search``; ``reader`` holds the
:class:`~mnist_edge.edge_app.numbers.reader.NumberReader` that runs them, ``image`` reads
numbers from pictures with the same scores and search.
"""
