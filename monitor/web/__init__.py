"""The only package that imports Streamlit or Altair: page plumbing, charts as values, views shaping results."""
