"""Made-up Chinese names for the demo: places from paired syllables, people from common characters."""

from __future__ import annotations

import numpy as np

PLACE_FIRST = list("青白石柳桃杏梅竹松枫金银铜溪河湖塘泉山岭峰岗坪田禾丰安平和兴隆福寿康宁永长新东南西北上下中")
PLACE_SECOND = list("溪湖塘桥坊源川洲岭坪口湾港岗冲垅陂田圩埠家庄园林山峰坑圳水关")

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任卢姚钟"
)
# Roughly the frequency of the most common surnames: the first few far more often.
SURNAME_WEIGHTS = 1 / np.arange(1, len(SURNAMES) + 1) ** 0.8
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红文玉辉鹏飞婷雪琳晨宇浩然子轩欣怡梓涵宏斌海燕春梅金凤秋菊德福贵兴旺家豪思雨佳琪"
)


def place_names(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct two-character place names."""
    pairs = [a + b for a in PLACE_FIRST for b in PLACE_SECOND if a != b]
    if count > len(pairs):
        raise ValueError(f"only {len(pairs)} place names available, {count} asked")
    return [pairs[i] for i in rng.permutation(len(pairs))[:count]]


def surnames(rng: np.random.Generator, count: int) -> np.ndarray:
    p = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
    return np.array(SURNAMES, dtype=object)[rng.choice(len(SURNAMES), count, p=p)]


def given_names(rng: np.random.Generator, count: int) -> np.ndarray:
    """One or two characters, two more often."""
    chars = np.array(GIVEN, dtype=object)
    first = chars[rng.integers(0, len(chars), count)]
    second = chars[rng.integers(0, len(chars), count)]
    two = rng.random(count) < 0.7
    return np.where(two, first + second, first)
