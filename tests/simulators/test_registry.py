"""Scenes register themselves beside their class; the dataset table reads from them."""

from __future__ import annotations

import pytest

from crlbench.registry import DATASETS, GROUPS, SCENES, dataset_entry, scene_class
from crlbench.simulators import blender
from crlbench.simulators.base import Scene, register_scene


def test_every_scene_is_registered_under_its_class_name():
    assert set(SCENES) == {"toy-son", "causal-circuit", "causal3dident"}
    for name, cls in SCENES.items():
        assert issubclass(cls, Scene) and cls.name == name and cls.description
        assert scene_class(name) is cls


def test_dataset_specs_carry_the_class_version_and_render_defaults():
    for did, entry in DATASETS.items():
        spec = entry.spec()
        assert spec.scene_version == SCENES[entry.scene].version, did
        if entry.scene == "causal3dident":
            assert spec.render == blender.DEFAULT_RENDER
    assert all(any(d in ids for ids in GROUPS.values()) for d in DATASETS)


def test_register_scene_refuses_a_second_class_of_the_same_name():
    with pytest.raises(ValueError, match="already registered"):

        @register_scene
        class Again(SCENES["toy-son"]):  # type: ignore[misc, valid-type]
            pass


def test_register_scene_needs_a_description():
    with pytest.raises(ValueError, match="description"):

        @register_scene
        class Bare(Scene):  # type: ignore[misc]  # abstract: never instantiated
            name = "bare"


def test_unknown_scene_suggests_the_close_name():
    with pytest.raises(Exception, match="toy-son"):
        scene_class("toy-sn")
    with pytest.raises(Exception, match="toy-son-pairs-v1"):
        dataset_entry("toy-son-pair-v1")
