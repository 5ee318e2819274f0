"""帮助: the user manual's chapter of the signed-in role (docs/manual/), and for the system administrator also the
operator's chapter."""

import streamlit as st

from monitor.web.ui import page_viewer
from monitor.web.views import manual

viewer = page_viewer(__file__)
st.header("帮助")
st.caption(f"{viewer.role}的使用手册。完整手册（各角色及运维）在服务器的 docs/manual/ 文件夹中。")

names = manual.chapters_for(viewer.role)
places = st.tabs([manual.title(n) for n in names]) if len(names) > 1 else [st.container()]
for name, place in zip(names, places, strict=True):
    with place:
        st.subheader(manual.title(name))
        for text, picture in manual.sections(name):
            if picture is None:
                st.markdown(text)
            elif picture.is_file():
                st.image(str(picture), caption=text or None)
            else:
                st.caption(f"（截图 {picture.name} 尚未生成：运行 .venv/bin/python docs/manual/screenshots.py）")
