"""The topics domain: BERTopic fits, updates, novelty and lineage over cached embeddings.

Modules, each with one job (the pure ones take and return arrays and frames):

- ``params``: typed parameters and results (TopicParams, TopicFit, TopicSummary).
- ``words``: stop words, term counts, c-TF-IDF, maximal marginal relevance, labels.
- ``vectors``: exact cosine k-NN and centroids.
- ``clustering``: UMAP and HDBSCAN factories, UMAP's numba kernel cache.
- ``outliers``: the clusterer that joins outliers to their nearest centroid.
- ``seedcheck``: the second-seed clustering beside the fit (a child process).
- ``sampling``: which papers a full fit clusters (period-balanced over long horizons).
- ``fit``: the BERTopic fit, its description and NPMI; placing the papers not clustered.
- ``paper_map``: the report's 2-D map.
- ``lineage``: stable topic ids across fits.
- ``novelty`` and ``update``: placing new papers into a fit and birthing topics from its pool.
- ``persistence``: every store read and write (SQL in ``sql/topics/``).
- ``stage``: the entry points (``fit_and_store``, ``place_new_papers``).

Importing the package imports none of them.
"""
